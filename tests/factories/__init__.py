from datetime import timedelta

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
