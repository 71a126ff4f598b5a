"""Reads for statements and their reconciliation: the list with counts per category, the workspace's counts and
items, disputes to follow up, referrals to link by hand. Counts are grouped in SQL and item lists fetch their
joins and resolutions in a fixed number of queries whatever the number of rows."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from finance.models import MatchCategory, PartnerStatement, ReconciliationItem, Resolution, ResolutionAction
from partners.models import Partner, Referral

FINAL = [action for action in ResolutionAction.values if action != ResolutionAction.DISPUTE]
STATES = [("open", "Open"), ("disputed", "Disputed"), ("resolved", "Resolved"), ("all", "All")]
ITEMS_PER_PAGE = 50


def _final_resolution() -> Exists:
    return Exists(Resolution.objects.filter(item=OuterRef("pk"), action__in=FINAL))


def _dispute() -> Exists:
    return Exists(Resolution.objects.filter(item=OuterRef("pk"), action=ResolutionAction.DISPUTE))


def with_state(queryset: QuerySet[ReconciliationItem]) -> QuerySet[ReconciliationItem]:
    """Each item with `resolved` (a final resolution exists) and `disputed` (a dispute exists)."""
    return queryset.annotate(resolved=_final_resolution(), disputed=_dispute())


def statement_list() -> QuerySet[PartnerStatement]:
    """Statements, newest period first, each with its lines' count and its items per category and still open."""
    return (
        PartnerStatement.objects.select_related("partner", "imported_by")
        .annotate(
            open_count=Count(
                "items",
                filter=~Q(items__category=MatchCategory.MATCHED)
                & ~Q(items__id__in=Resolution.objects.filter(action__in=FINAL).values("item_id")),
                distinct=True,
            ),
            matched_count=Count("items", filter=Q(items__category=MatchCategory.MATCHED), distinct=True),
            item_count=Count("items", distinct=True),
        )
        .order_by("-period_end", "-id")
    )


def statement_with_file(*, partner: Partner, sha: str) -> PartnerStatement | None:
    """The partner's statement imported from the same file (by its SHA-256), if any."""
    return PartnerStatement.objects.filter(partner=partner, file_sha256=sha).select_related("imported_by").first()


def statement_detail() -> QuerySet[PartnerStatement]:
    return PartnerStatement.objects.select_related("partner", "imported_by")


@dataclass
class CategoryCount:
    value: str
    label: str
    total: int
    open: int


def statement_counts(*, statement: PartnerStatement) -> list[CategoryCount]:
    """Per category: how many items, and how many still wait for a person (matched ones never do)."""
    rows = (
        with_state(statement.items.all())
        .order_by()
        .values("category")
        .annotate(total=Count("id"), still_open=Count("id", filter=Q(resolved=False)))
    )
    found = {row["category"]: row for row in rows}
    counts = []
    for category in MatchCategory:
        row = found.get(category.value, {"total": 0, "still_open": 0})
        still_open = 0 if category == MatchCategory.MATCHED else row["still_open"]
        counts.append(CategoryCount(category.value, category.label, row["total"], still_open))
    return counts


def statement_items(*, statement: PartnerStatement, category: str, state: str) -> QuerySet[ReconciliationItem]:
    items = with_state(
        statement.items.filter(category=category).select_related(
            "line", "referral", "referral__lead", "accrual", "statement"
        )
    ).prefetch_related(
        Prefetch("resolutions", queryset=Resolution.objects.select_related("resolved_by", "referral", "accrual"))
    )
    if state == "open":
        items = items.filter(resolved=False)
    elif state == "disputed":
        items = items.filter(resolved=False, disputed=True)
    elif state == "resolved":
        items = items.filter(resolved=True)
    return items.order_by("line__row_number", "id")


def item_detail() -> QuerySet[ReconciliationItem]:
    return with_state(
        ReconciliationItem.objects.select_related(
            "statement", "statement__partner", "line", "referral", "referral__lead", "accrual"
        )
    ).prefetch_related(
        Prefetch(
            "resolutions",
            queryset=Resolution.objects.select_related("resolved_by", "referral", "accrual").order_by("resolved_at"),
        )
    )


def line_items(*, item: ReconciliationItem) -> list[ReconciliationItem]:
    """Every item of the item's line (a hand link adds one), oldest first."""
    if item.line_id is None:
        return [item]
    return list(item_detail().filter(line_id=item.line_id).order_by("id"))


def disputes_open(*, partner: Partner | None = None, limit: int = 50) -> list[Resolution]:
    """Disputes without a final resolution yet, the soonest follow-up first: visible until they are resolved."""
    disputes = (
        Resolution.objects.filter(action=ResolutionAction.DISPUTE)
        .exclude(item__in=Resolution.objects.filter(action__in=FINAL).values("item_id"))
        .select_related(
            "item", "item__statement", "item__statement__partner", "item__referral", "item__line", "resolved_by"
        )
        .order_by("follow_up_on", "id")
    )
    if partner is not None:
        disputes = disputes.filter(item__statement__partner=partner)
    return list(disputes[:limit])


def referral_search(*, partner: Partner, query: str, limit: int = 10) -> list[Referral]:
    """The partner's referrals whose tracking code, lead's name, email or company contains `query`."""
    query = query.strip()
    if len(query) < 2:
        return []
    match = (
        Q(tracking_code__icontains=query)
        | Q(lead__name__icontains=query)
        | Q(lead__email__icontains=query)
        | Q(lead__company__icontains=query)
    )
    return list(
        Referral.objects.filter(match, partner=partner).select_related("lead").order_by("-sent_at", "-id")[:limit]
    )
