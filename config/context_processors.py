"""Navigation: one list, each entry shown only to users holding its permission."""

from django.conf import settings
from django.urls import reverse

from common.roles import user_role_names

# (label, url name, permission or None for every signed-in user). Views check the same
# permission server-side; hiding a link is only a courtesy.
NAVIGATION = [
    ("Home", "home", None),
    ("Triage", "triage:queue", "leads.triage_lead"),
    ("Leads", "leads:list", "leads.view_lead"),
    ("Import", "leads:import_upload", "leads.import_leads"),
    ("ICP", "leads:icp_list", "leads.view_icpprofile"),
    ("Partners", "partners:list", "partners.view_partner"),
    ("Referrals", "partners:referral_list", "partners.view_referral"),
    ("Nurture", "nurture:enrollments", "nurture.view_enrollment"),
    ("Tasks", "nurture:tasks", "nurture.view_nurturetask"),
    ("Finance", "finance:overview", "finance.view_payment"),
]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    path = request.path
    items = [
        {"label": label, "url": reverse(url_name)}
        for label, url_name, perm in NAVIGATION
        if perm is None or user.has_perm(perm)
    ]
    # The active entry is the longest URL the current path starts with ("/" only for itself).
    matches = [
        item["url"] for item in items if path == item["url"] or (item["url"] != "/" and path.startswith(item["url"]))
    ]
    active = max(matches, key=len, default=None)
    for item in items:
        item["active"] = item["url"] == active
    return {"nav_items": items, "user_roles": user_role_names(user)}


def site(request=None) -> dict:
    """Who runs this site and where it lives, for any template: pages get it as a context processor; an email body
    (rendered without a request) merges the same: `render_to_string(name, {**site(), ...})`."""
    return {"company_name": settings.COMPANY_NAME, "site_url": settings.SITE_URL.rstrip("/")}
