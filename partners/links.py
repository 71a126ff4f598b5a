"""Signed, expiring links that let a partner answer a referral without an account.

The token carries the referral's id and its random `link_key`, signed with SECRET_KEY and a salt, and a
timestamp. Changing the id breaks the signature; a key from another referral does not match; after
`REFERRAL_LINK_MAX_AGE_DAYS` the link is refused as expired. Reminder emails carry a fresh link.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from partners.models import Referral

SALT = "partners.referral-link"


class LinkError(Exception):
    def __init__(self, message: str, *, expired: bool = False):
        super().__init__(message)
        self.expired = expired


def referral_token(referral) -> str:
    return signing.dumps({"r": referral.pk, "k": referral.link_key}, salt=SALT, compress=False)


def referral_url(referral) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("partner_link", args=[referral_token(referral)])


def referral_from_token(token: str):
    """The referral a link is for, or LinkError saying why the link cannot be used."""
    max_age = settings.REFERRAL_LINK_MAX_AGE_DAYS * 86400
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkError(
            "This link has expired. Ask us for a new one, or use the link in our latest email.", expired=True
        ) from None
    except signing.BadSignature:
        raise LinkError("This link is not valid. Please use the link exactly as it was in our email.") from None
    referral = (
        Referral.objects.select_related("lead", "partner").filter(pk=data.get("r"), link_key=data.get("k")).first()
    )
    if referral is None or not data.get("k"):
        raise LinkError("This link is not valid. Please use the link exactly as it was in our email.")
    return referral
