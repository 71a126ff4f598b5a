"""Writes for nurture (the only code that changes its state). Emails go through the outbox (`outbox.services`).

- `enrolling`: the enroll redirect (`enrollment_create`), its refusals and the first email at once.
- `enrollments`: pausing, stopping, unsubscribing, re-qualification hand-back.
- `steps`: the due-step sweep that runs the tracks' steps.
- `replies`: helpful replies per reason.
"""

from nurture.services.enrolling import enrollment_create, enrollment_refusal, track_writes_now
from nurture.services.enrollments import (
    ENROLLABLE,
    LEAD_FACING_KINDS,
    NurtureError,
    enrollment_pause,
    enrollment_resume,
    enrollment_stop,
    enrollments_handback,
    lead_id_from_unsubscribe_token,
    lead_unsubscribe,
    step_email_problem,
    track_refusal,
    unsubscribe_token,
    unsubscribe_url,
)
from nurture.services.replies import (
    helpful_replies_for,
    helpful_reply_preview,
    helpful_reply_render,
    helpful_reply_send,
)
from nurture.services.steps import UNSUBSCRIBE_FOOTER, nurture_run_due

__all__ = [
    "ENROLLABLE",
    "LEAD_FACING_KINDS",
    "UNSUBSCRIBE_FOOTER",
    "NurtureError",
    "enrollment_create",
    "enrollment_pause",
    "enrollment_refusal",
    "enrollment_resume",
    "enrollment_stop",
    "enrollments_handback",
    "helpful_replies_for",
    "helpful_reply_preview",
    "helpful_reply_render",
    "helpful_reply_send",
    "lead_id_from_unsubscribe_token",
    "lead_unsubscribe",
    "nurture_run_due",
    "step_email_problem",
    "track_refusal",
    "track_writes_now",
    "unsubscribe_token",
    "unsubscribe_url",
]
