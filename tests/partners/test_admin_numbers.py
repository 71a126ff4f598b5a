"""The partner admin holds its numbers to their column and to what they can mean: the acceptance window is added
to now when an introduction is sent (ten years at most), coordinates are degrees."""

import pytest
from django.urls import reverse

from partners.models import Partner
from tests.partners.test_admin import admin_client, partner_post  # noqa: F401 - the fixture

AT_MOST = "Ensure this value is less than or equal to {}."


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"monthly_capacity": "99999999999"}, "monthly_capacity", AT_MOST.format(2147483647)),
        ({"acceptance_window_hours": "2147483647"}, "acceptance_window_hours", AT_MOST.format(87600)),
        ({"latitude": "95", "longitude": "0", "radius_km": "10"}, "latitude", AT_MOST.format(90)),
    ],
)
def test_partner_admin_refuses_numbers_out_of_range_on_their_field(admin_client, data, field, message):  # noqa: F811
    response = admin_client.post(reverse("admin:partners_partner_add"), partner_post(**data))

    assert response.context["adminform"].form.errors[field] == [message]
    assert not Partner.objects.exists()
