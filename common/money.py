"""Amounts as people type them, read one way everywhere (forms, imports, partner statements).

Interface (filled in by the money work of issue #14 item 6; finance reuses it):

    parse_amount(text, *, decimal_separator=None, currency=None) -> Decimal
        "1.234,56", "$1,234.56", "(12.00)", "12.00-", "−12.00", "CHF 1'234.50" …
        decimal_separator: "." or "," (the partner's / agreement's convention); None infers it and refuses
        what is ambiguous ("1,234" or "1.234" alone). currency: an ISO code; a symbol or code in the text
        that disagrees is refused. Raises AmountError whose message says how the text was read.
    currency_code(text) -> str: an ISO 4217 code, upper-cased, or AmountError.
"""
