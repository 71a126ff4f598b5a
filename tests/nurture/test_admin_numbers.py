"""A step's delay is added to now when it is scheduled: the admin refuses more than ten years (the column alone
would take 245,000 years, a 500 when the step was scheduled), as a form error on the field."""

import pytest
from django.urls import reverse

from nurture.models import Track
from tests.nurture.test_admin import admin_client, step_errors, track_post  # noqa: F401 - the fixture


@pytest.mark.parametrize(
    ("delay", "message"),
    [
        ("99999999999", "Ensure this value is less than or equal to 87600."),
        ("2147483647", "Ensure this value is less than or equal to 87600."),
        ("-1", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_track_admin_refuses_a_step_delay_past_ten_years(admin_client, delay, message):  # noqa: F811
    response = admin_client.post(reverse("admin:nurture_track_add"), track_post({"delay_hours": delay}))

    assert step_errors(response) == [{"delay_hours": [message]}]
    assert not Track.objects.exists()


def test_track_admin_saves_a_delay_of_ten_years(admin_client):  # noqa: F811
    response = admin_client.post(reverse("admin:nurture_track_add"), track_post({"delay_hours": "87600"}))

    assert response.status_code == 302
    assert Track.objects.get().steps.get().delay_hours == 87600
