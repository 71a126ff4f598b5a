"""Finance pages. Finance acts; Managers read (the same pages without the forms, and every action checks its
permission server-side); Sales Ops see nothing. Exports go through the formula-safe writer (`common.tabular`).

- `ledger`: the overview (aging, who is late, a partner's open items), the ledger and a fee's page, a partner's
  statement of account. `payments`: recording, allocating, bouncing. `books`: closing months, the journal, the audit.
"""
