"""Writes for partners, fee agreements, referrals and the fee ledger.

Every referral change locks the lead row first (so two people acting on one lead produce one outcome),
checks the state, writes the referral, appends fee accruals by the terms snapshotted when it was sent,
queues the emails in the outbox and records the step on the lead's timeline.

- `agreements`: fee agreements. `sending`: `referral_send`. `outcomes`: the partner's answer, conversion,
  reversal, re-offering. `periodic`: expiry and reminders.
"""

from partners.services.agreements import FeeAgreementError, fee_agreement_in_force, fee_agreement_save
from partners.services.ledger import LedgerError, accrual_correct
from partners.services.outcomes import (
    parse_deal_value,
    referral_accept,
    referral_conversion_reverse,
    referral_convert,
    referral_deal_value_correct,
    referral_decline,
    referral_expire,
    referral_lose,
)
from partners.services.periodic import referrals_expire_due, referrals_remind_due
from partners.services.sending import REFERRABLE, ConsentError, ReferralError, referral_send

__all__ = [
    "REFERRABLE",
    "ConsentError",
    "FeeAgreementError",
    "LedgerError",
    "ReferralError",
    "accrual_correct",
    "fee_agreement_in_force",
    "fee_agreement_save",
    "parse_deal_value",
    "referral_accept",
    "referral_conversion_reverse",
    "referral_convert",
    "referral_deal_value_correct",
    "referral_decline",
    "referral_expire",
    "referral_lose",
    "referral_send",
    "referrals_expire_due",
    "referrals_remind_due",
]
