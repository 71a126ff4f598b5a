"""The referral list's date filters take the same bounded dates as the triage queue's (leads.filters)."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"sent_from": "0001-01-01"}, {"sent_to": "9999-12-31"}])
def test_referral_date_filter_out_of_range_is_not_applied_and_says_why(client, manager_user, query):
    client.force_login(manager_user)

    response = client.get(reverse("partners:referral_list"), query)

    assert response.status_code == 200
    (field,) = query
    assert response.context["filter"].form.errors[field] == ["Give a date from 1900-01-01 to 2999-12-31."]
    assert '<div class="invalid-feedback">Give a date from 1900-01-01 to 2999-12-31.</div>' in response.text
