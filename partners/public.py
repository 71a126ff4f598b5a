"""The page a partner uses to answer a referral without an account: the signed link is the credential.

What the page shows follows the referral's mode and status, never more: an introduction before it is
accepted shows what the introduction offered (no email or phone); after accepting, the contact details; a
signpost shows nothing about the customer at all. Every change goes through `partners.services`, which
checks the state under a lock, so a reused or replayed link cannot do anything twice.
"""

from functools import wraps

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from common.forms import AmountField, CurrencyField, amount_convention, bound_currency
from partners import fees, links, services
from partners.models import Referral, ReferralMode, ReferralStatus
from partners.services import ReferralError

TEMPLATE = "partners/partner_link.html"

DECLINE_REASONS = [
    ("", "Choose a reason"),
    ("Outside the area we serve", "Outside the area we serve"),
    ("Not something we offer", "Not something we offer"),
    ("Too small for us", "Too small for us"),
    ("Too large for us", "Too large for us"),
    ("No capacity at the moment", "No capacity at the moment"),
    ("Already in contact with them", "Already in contact with them"),
]


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(label="Reason", choices=DECLINE_REASONS, required=False)
    details = forms.CharField(label="Or in your own words", max_length=300, required=False, widget=forms.Textarea)

    def reason_text(self) -> str:
        parts = [self.cleaned_data["reason"], self.cleaned_data["details"].strip()]
        return " — ".join(part for part in parts if part)


class ConvertForm(forms.Form):
    """The deal value as the partner writes amounts (`Partner.decimal_separator`), in the agreement's currency."""

    deal_value = AmountField(label="Deal value")
    currency = CurrencyField(label="Currency", required=False)

    def __init__(self, *args, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        terms_currency = (referral.fee_terms or {}).get("currency") or None
        currency = bound_currency(self, default=terms_currency)
        amount_convention(self, decimal_separator=referral.partner.decimal_separator, currency=currency)

    def clean_deal_value(self):
        try:
            return services.parse_deal_value(self.cleaned_data["deal_value"])
        except ReferralError as exc:
            raise forms.ValidationError(str(exc)) from None


class LoseForm(forms.Form):
    reason = forms.CharField(label="Why was it lost?", max_length=300, required=False, widget=forms.Textarea)


FINAL = (ReferralStatus.DECLINED, ReferralStatus.EXPIRED, ReferralStatus.CONVERTED, ReferralStatus.LOST)
FORMS = {"decline": DeclineForm, "convert": ConvertForm, "lose": LoseForm}


def _form(action: str, referral: Referral, *, data=None, initial=None) -> forms.Form:
    extra = {"referral": referral} if action == "convert" else {}
    return FORMS[action](data, initial=initial, auto_id=f"{action}-%s", **extra)


def _actions(referral: Referral) -> tuple[str, ...]:
    """What the partner may do now. A signpost is never accepted or declined: it converts or is lost."""
    if referral.mode == ReferralMode.INTRODUCE:
        return {ReferralStatus.SENT: ("accept", "decline"), ReferralStatus.ACCEPTED: ("convert", "lose")}.get(
            referral.status, ()
        )
    return ("convert", "lose") if referral.status == ReferralStatus.SENT else ()


def _act(referral: Referral, action: str, form: forms.Form | None) -> None:
    """Run one action through its service; ReferralError says why it cannot be done."""
    if action not in ("accept", "decline", "convert", "lose"):
        raise ReferralError("Choose what to do with the buttons on this page.")
    if referral.mode == ReferralMode.SIGNPOST and action in ("accept", "decline"):
        raise ReferralError("A signposted customer is not accepted or declined; tell us how it went instead.")
    if form is not None and not form.is_valid():
        raise ReferralError(
            " ".join(f"{form.fields[name].label}: {' '.join(errs)}" for name, errs in form.errors.items())
        )
    actor_label = f"partner:{referral.partner.slug}"
    if action == "accept":
        services.referral_accept(referral=referral, actor_label=actor_label)
    elif action == "decline":
        services.referral_decline(referral=referral, reason=form.reason_text(), actor_label=actor_label)
    elif action == "convert":
        data = form.cleaned_data
        services.referral_convert(
            referral=referral, deal_value=data["deal_value"], currency=data["currency"], actor_label=actor_label
        )
    else:
        services.referral_lose(referral=referral, reason=form.cleaned_data["reason"], actor_label=actor_label)


def _page(request, referral: Referral, forms_: dict, *, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "referral": referral,
        "lead": referral.lead,
        "actions": _actions(referral),
        "used": referral.status in FINAL,
        "forms": forms_,
        "error": error,
        "deal": "" if referral.deal_value is None else fees.format_money(referral.deal_value, referral.deal_currency),
    }
    return render(request, TEMPLATE, context, status=status)


def private_link_page(view):
    """The URL is a credential: never cached, never indexed, never sent on to another site.

    `same-origin` rather than `no-referrer`: under `no-referrer` browsers send `Origin: null` with a form
    POST, which Django's CSRF check (rightly) refuses. `same-origin` still sends nothing to other sites."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "same-origin"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return never_cache(wrapper)


@private_link_page
@require_http_methods(["GET", "POST"])
def partner_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        referral = links.referral_from_token(token)
    except links.LinkError as exc:
        return render(request, TEMPLATE, {"link_error": str(exc)}, status=410 if exc.expired else 404)
    initial = {"convert": {"currency": (referral.fee_terms or {}).get("currency", "")}}
    forms_ = {action: _form(action, referral, initial=initial.get(action)) for action in FORMS}
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action in FORMS:
            forms_[action] = _form(action, referral, data=request.POST)
        try:
            _act(referral, action, forms_.get(action))
        except ReferralError as exc:
            return _page(request, referral, forms_, error=str(exc), status=422)
        return HttpResponseRedirect(reverse("partner_link", args=[token]), status=303)
    return _page(request, referral, forms_)
