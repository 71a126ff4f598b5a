from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from leads.models import Lead, LeadSource

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@passthrough.example")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


class LeadSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadSource
        django_get_or_create = ("slug",)

    slug = "web-form"
    name = "Website form"
    sla_hours = 24


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    name = factory.Faker("name")
    company = factory.Faker("company")
    country = "GB"
    budget = None
    # A budget needs a currency (Lead's constraint, leads/fields.py): pounds unless the test says otherwise.
    budget_currency = factory.LazyAttribute(lambda lead: "" if lead.budget is None else "GBP")
    source = factory.SubFactory(LeadSourceFactory)
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    received_at = factory.LazyFunction(timezone.now)
    respond_by = factory.LazyAttribute(lambda lead: lead.received_at + timedelta(hours=24))


class ICPProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.ICPProfile"

    name = factory.Sequence(lambda n: f"Profile {n}")
    slug = factory.Sequence(lambda n: f"profile-{n}")


class ICPVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.ICPVersion"

    profile = factory.SubFactory(ICPProfileFactory)
    number = 1
    status = "draft"


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.Criterion"

    version = factory.SubFactory(ICPVersionFactory)
    label = factory.Sequence(lambda n: f"Criterion {n}")
    field = "employees"
    operator = "gte"
    value = 10


SAMPLE_CSV = (
    "Lead ID,Email Address,Full Name,Company Name,No. of employees,Country\r\n"
    "L1,ann@example.com,Ann Lee,Acme,12,GB\r\n"
    "L2,not-an-email,Bob Roe,Bco,ten,FR\r\n"
)


class ImportJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "leads.ImportJob"

    source = factory.SubFactory(LeadSourceFactory)
    original_name = "leads.csv"
    file = factory.django.FileField(filename="leads.csv", data=SAMPLE_CSV.encode())
    encoding = "utf-8"
    delimiter = ","
    mapping = factory.LazyFunction(
        lambda: {"Lead ID": "external_id", "Email Address": "email", "Full Name": "name",
                 "Company Name": "company", "No. of employees": "employees", "Country": "country"}
    )  # fmt: skip


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "partners.Partner"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Partner {n}")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    kind = "lender"
    status = "active"
    grade = "B"
    description = "Loans for young businesses."
    website = "https://partner.example"
    public_email = "hello@partner.example"
    countries = factory.LazyFunction(lambda: ["GB"])

    @factory.post_generation
    def contact(self, create, extracted, **kwargs):
        """A contact who receives introductions, unless `contact=False`."""
        if create and extracted is not False:
            PartnerContactFactory(partner=self)


class PartnerContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "partners.PartnerContact"

    partner = factory.SubFactory(PartnerFactory, contact=False)
    name = "Pat Partner"
    email = factory.Sequence(lambda n: f"intro{n}@partner.example")
    receives_introductions = True


class FeeAgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "partners.FeeAgreement"

    partner = factory.SubFactory(PartnerFactory)
    currency = "EUR"
    per_accepted = Decimal("25.00")
    per_conversion = Decimal("100.00")
    percent_of_deal = Decimal("10.00")
    percent_cap = Decimal("500.00")
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))


class ConsentingLeadFactory(LeadFactory):
    """A disqualified lead who agreed to partner sharing: ready to be introduced."""

    status = "disqualified"
    budget = Decimal("8000.00")
    budget_currency = "EUR"
    partner_sharing_consent_at = factory.LazyFunction(timezone.now)
    partner_sharing_consent_version = "2026-01"
