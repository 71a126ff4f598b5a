"""Demo nurture tracks, helpful-reply templates per reason, and enrollments at various steps (made through
the real services, backdated)."""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from leads.models import DisqualificationReason, Lead, LeadStatus
from nurture import services
from nurture.models import Enrollment, HelpfulReply, Step, Track
from outbox.models import MessageStatus, OutboundMessage

DAY = 24
# slug: name, description, reason codes, steps [(kind, delay hours, subject, body)]
TRACKS = {
    "budget-timing": (
        "Budget and timing: ready when you are",
        "For leads who cannot buy yet: useful material now, a re-check in a month.",
        ["budget", "timing"],
        [
            (
                "email",
                0,
                "Planning ahead, {{ lead.name|default:'there' }}?",
                "Hello {{ lead.name|default:'there' }},\n\nWhile you plan, here are our free guides on budgeting for "
                "{{ lead.product_interest|default:'this'|lower }}, and a checklist of what to prepare.",
            ),
            (
                "email",
                14 * DAY,
                "Ways to spread the cost",
                "Hello {{ lead.name|default:'there' }},\n\nMany customers start small: here are our entry options and "
                "the financing partners they used.",
            ),
            ("requalify", 30 * DAY, "", ""),
            (
                "email",
                45 * DAY,
                "Still thinking about it?",
                "Hello {{ lead.name|default:'there' }},\n\nIf the timing is better now, reply to this email "
                "and we will "
                "pick it up from here.",
            ),
        ],
    ),
    "beginner-path": (
        "Beginner path: prerequisites first",
        "For learners who are not ready for the advanced course yet.",
        ["prerequisites"],
        [
            (
                "email",
                0,
                "Start with the foundations",
                "Hello {{ lead.name|default:'there' }},\n\nThe advanced course assumes linear algebra "
                "and Python. These "
                "free modules get you there in about six weeks.",
            ),
            (
                "task",
                7 * DAY,
                "",
                "Check in on their foundations progress\nAsk which module they reached; offer the study group.",
            ),
            (
                "email",
                21 * DAY,
                "Halfway there",
                "Hello {{ lead.name|default:'there' }},\n\nHere are the practice problems most learners find useful "
                "before starting.",
            ),
            ("requalify", 60 * DAY, "", ""),
        ],
    ),
    "decision-maker-kit": (
        "Not the decision-maker: a kit for your boss",
        "Give the person who asked what they need to convince the person who decides.",
        ["not-decision-maker"],
        [
            (
                "email",
                0,
                "A one-page summary to forward",
                "Hello {{ lead.name|default:'there' }},\n\nHere is a one-page summary{% if lead.company %} for "
                "{{ lead.company }}{% endif %} you can forward to whoever signs off, with the three questions they "
                "usually ask.",
            ),
            (
                "email",
                7 * DAY,
                "The numbers your manager will ask for",
                "Hello {{ lead.name|default:'there' }},\n\nOur ROI calculator and two short case studies.",
            ),
            ("task", 10 * DAY, "", "Offer a call with their decision-maker\nPropose two slots; include the kit."),
        ],
    ),
    "press": (
        "Press and analysts",
        "Journalists and analysts: the press kit and a route to the comms team.",
        ["non-buyer"],
        [
            (
                "email",
                0,
                "Our press kit",
                "Hello {{ lead.name|default:'there' }},\n\nOur press kit, logos and fact "
                "sheet are attached; the comms team will be in touch.",
            ),
            ("task", 1 * DAY, "", "Pass to the comms team\nForward the enquiry to press@ with the lead's message."),
        ],
    ),
    "potential-partners": (
        "Potential partners",
        "Vendors and firms who would rather work with us than buy from us.",
        ["wrong-need"],
        [
            (
                "email",
                0,
                "Our partner programme",
                "Hello {{ lead.name|default:'there' }},\n\nHow our partner programme works, "
                "and what our partners earn.",
            ),
            ("task", 3 * DAY, "", "Introduce to partnerships\nBook a call with the partnerships lead."),
        ],
    ),
}
REPLIES = {
    "budget": (
        "Budget: free resources and entry options",
        "Resources while you plan your budget",
        "Hello {{ lead.name|default:'there' }},\n\nThank you for asking. We are probably more than you need "
        "right now, so here are our free guides, the entry-level options other customers started with, and "
        "two affordable alternatives worth a look.",
    ),
    "geography": (
        "Geography: who serves your area",
        "Someone closer to you",
        "Hello {{ lead.name|default:'there' }},\n\nWe do not work in your area yet. Here is how to find a "
        "provider near you, and what to ask them.",
    ),
    "company-size": (
        "Company size: tools that fit your size",
        "Tools that fit your team",
        "Hello {{ lead.name|default:'there' }},\n\nFor a team your size, these lighter tools are a "
        "better start; when you grow, we will be here.",
    ),
    "credit": (
        "Credit: how to strengthen an application",
        "Strengthening a future application",
        "Hello {{ lead.name|default:'there' }},\n\nWe cannot offer credit today. This guide explains what "
        "lenders look at, and how to improve it over the next six months.",
    ),
    "prerequisites": (
        "Prerequisites: where to start",
        "Where to start",
        "Hello {{ lead.name|default:'there' }},\n\nThe course builds on some foundations; these free "
        "modules are the best way in.",
    ),
    "timing": (
        "Timing: when you are ready",
        "When the time is right",
        "Hello {{ lead.name|default:'there' }},\n\nNo rush. Here is what to prepare, and you can reply to "
        "this email whenever you want to pick it up.",
    ),
    "not-decision-maker": (
        "Not the decision-maker: what to forward",
        "Something to share with your team",
        "Hello {{ lead.name|default:'there' }},\n\nHere is a short summary you can forward to "
        "whoever decides, with the answers to the questions they usually ask.",
    ),
    "wrong-need": (
        "Wrong need: where else to look",
        "Where else to look",
        "Hello {{ lead.name|default:'there' }},\n\nWe do not offer that, but these are good places to "
        "look, and what to compare.",
    ),
    "non-buyer": (
        "Non-buyer: press, jobs and partnerships",
        "The right door",
        "Hello {{ lead.name|default:'there' }},\n\nFor press: our press kit. For jobs: our careers page. "
        "For partnerships: partners@ — they will answer you directly.",
    ),
}


def seed_tracks() -> dict[str, Track]:
    reasons = {r.code: r for r in DisqualificationReason.objects.all()}
    tracks = {}
    for slug, (name, description, codes, steps) in TRACKS.items():
        track, created = Track.objects.get_or_create(slug=slug, defaults={"name": name, "description": description})
        tracks[slug] = track
        if created:
            track.reasons.set([reasons[c] for c in codes if c in reasons])
            Step.objects.bulk_create(
                Step(track=track, position=n, kind=kind, delay_hours=delay, subject=subject, body=body)
                for n, (kind, delay, subject, body) in enumerate(steps, start=1)
            )
    for code, (title, subject, body) in REPLIES.items():
        if code in reasons:
            HelpfulReply.objects.get_or_create(
                reason=reasons[code], title=title, defaults={"subject": subject, "body": body}
            )
    return tracks


@transaction.atomic
def seed_enrollments(*, seed: int = 20261124, limit: int = 60) -> int:
    """Enroll some non-qualified demo leads in the track for their reason, started over the last weeks, and
    run the due steps at a few moments in between, so enrollments sit at various steps. Runs once."""
    if Enrollment.objects.exists():
        return 0
    rng = random.Random(seed)
    now = timezone.now()
    by_reason = {}
    for track in Track.objects.prefetch_related("reasons", "steps"):
        for reason in track.reasons.all():
            by_reason.setdefault(reason.pk, track)
    leads = (
        Lead.objects.filter(
            external_id__startswith="demo-",
            status__in=[LeadStatus.DISQUALIFIED, LeadStatus.NEEDS_REVIEW],
            primary_reason__in=list(by_reason),
            do_not_contact=False,
        )
        .select_related("primary_reason")
        .order_by("received_at")
    )
    made = 0
    for lead in leads:
        if made >= limit:
            break
        track = by_reason[lead.primary_reason_id]
        started = max(lead.received_at + timedelta(hours=1), now - timedelta(days=rng.randint(1, 50)))
        if services.enrollment_refusal(lead=lead, track=track):
            continue
        services.enrollment_create(lead=lead, track=track, actor_label="seed_demo", now=started)
        made += 1
    for days_ago in (40, 30, 20, 10, 0):
        services.nurture_run_due(now=now - timedelta(days=days_ago))
    OutboundMessage.objects.filter(status=MessageStatus.QUEUED).update(status=MessageStatus.SENT, sent_at=now)
    return made
