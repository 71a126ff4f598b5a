from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from common.roles import Role
from finance.seed import seed_finance
from leads.seed import seed_leads
from nurture.seed import seed_enrollments, seed_tracks
from outbox.publish import outbox_deferred
from partners.seed import seed_partners, seed_referral_history

DEMO_PASSWORD = "passthrough-demo"  # noqa: S105 - demo only; printed for the person running `make run`
DEMO_USERS = [
    # username, first name, last name, role (None = superuser for /admin/)
    ("sales", "Sam", "Sales", Role.SALES_OPS),
    ("finance", "Fran", "Finance", Role.FINANCE),
    ("manager", "Morgan", "Manager", Role.MANAGER),
    ("admin", "Ada", "Admin", None),
]


class Command(BaseCommand):
    help = "Create demo users (one per role) and realistic demo data. Safe to run again: it changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=3000, help="How many demo leads should exist (default 3000).")

    def handle(self, *args, leads: int, **options):
        if leads < 0:
            raise CommandError("--leads must be zero or more.")
        with transaction.atomic():
            users_created = self.seed_users()
        leads_created = seed_leads(count=leads)
        with transaction.atomic():
            partners = seed_partners()
        with outbox_deferred():  # demo history: its emails are marked sent, no task per email
            referrals = seed_referral_history()
        with transaction.atomic():
            tracks = seed_tracks()
        with outbox_deferred():
            enrollments = seed_enrollments()
        with outbox_deferred():  # older referrals for two months of books; their emails went out at the time
            books = seed_finance()
        self.stdout.write(
            f"Demo users created: {users_created}; leads created: {leads_created} (of {leads}); "
            f"partners: {len(partners)}; referrals created: {referrals}; tracks: {len(tracks)}; "
            f"enrollments created: {enrollments}; finance: "
            f"{', '.join(f'{n} {what}' for what, n in books.items()) or 'already seeded'}."
        )
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD}):"))
        for username, *_, role in DEMO_USERS:
            self.stdout.write(f"  {username:<8} {role or 'Admin (superuser, /admin/)'}")

    def seed_users(self) -> int:
        User = get_user_model()
        created = 0
        for username, first, last, role in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            if role is None:
                user = User.objects.create_superuser(username, f"{username}@passthrough.example", DEMO_PASSWORD)
            else:
                user = User.objects.create_user(username, f"{username}@passthrough.example", DEMO_PASSWORD)
                try:
                    user.groups.add(Group.objects.get(name=role))
                except Group.DoesNotExist:
                    raise CommandError(f"Group {role!r} is missing: run `manage.py migrate` first.") from None
            user.first_name, user.last_name = first, last
            user.save(update_fields=["first_name", "last_name"])
            created += 1
        return created
