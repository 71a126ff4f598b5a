"""Writes for leads. Every change of a lead goes through here and lands on its timeline.

- `base`: errors, the lifecycle's allowed transitions, the timeline (`lead_event_record`).
- `intake`: leads arriving (created; sent again by an inbound system) and corrected by hand.
- `evaluation`: checking leads against the ICP in force, one (explained) or many (in SQL).
- `icp`: ICP versions: drafts, publishing, re-qualification, what-if.
- `redirects`: telling the lead, their first response (set only there), closing and overriding.
- `messages`: the outbox's reports about a lead's emails, onto its timeline (a hook).
"""

from leads import engine
from leads.services.base import (
    DATA_FIELDS,
    OPEN_FOR_VERDICT,
    TRANSITIONS,
    ICPError,
    LeadDataError,
    LeadTransitionError,
    lead_event_record,
    lead_transition,
)
from leads.services.evaluation import (
    lead_evaluate,
    leads_evaluate_bulk,
    published_version,
    verdict_select,
)
from leads.services.icp import (
    icp_attribute_keys,
    icp_draft_create,
    icp_version_publish,
    icp_version_validate,
    icp_whatif,
    leads_requalify,
)
from leads.services.intake import EDITABLE_FIELDS, lead_create, lead_intake, lead_update
from leads.services.redirects import (
    CLOSE_KINDS,
    RedirectError,
    lead_close,
    lead_first_response_record,
    lead_override,
    lead_tell,
)

__all__ = [
    "CLOSE_KINDS",
    "DATA_FIELDS",
    "EDITABLE_FIELDS",
    "OPEN_FOR_VERDICT",
    "TRANSITIONS",
    "ICPError",
    "LeadDataError",
    "LeadTransitionError",
    "RedirectError",
    "engine",
    "icp_attribute_keys",
    "icp_draft_create",
    "icp_version_publish",
    "icp_version_validate",
    "icp_whatif",
    "lead_close",
    "lead_create",
    "lead_evaluate",
    "lead_event_record",
    "lead_first_response_record",
    "lead_intake",
    "lead_override",
    "lead_tell",
    "lead_transition",
    "lead_update",
    "leads_evaluate_bulk",
    "leads_requalify",
    "published_version",
    "verdict_select",
]
