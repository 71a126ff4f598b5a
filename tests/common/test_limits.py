"""common.limits: what the database can store, the same on every backend."""

from django import forms
from django.core.validators import MinValueValidator

from common.limits import (
    ColumnRangeFormMixin,
    integer_column_range,
    problem_sentence,
    unstorable_json,
    unstorable_text,
)
from leads.models import Lead
from partners.models import FeeTier


def test_unstorable_text_refuses_nul_and_lone_surrogates_only():
    assert unstorable_text("Zoë O'Brien 😀") is None
    assert unstorable_text("a\x00b") == "contains a NUL character (\\x00), which cannot be stored"
    assert unstorable_text("\ud800") == "is not valid Unicode text (a lone surrogate)"


def test_unstorable_json_finds_the_first_bad_key_or_string_with_its_path():
    assert unstorable_json({"a": [1, "x", {"b": None}]}, "attributes") is None
    assert unstorable_json({"a": [1, "x\x00"]}, "attributes") == ("attributes.a.1", unstorable_text("\x00"))
    assert unstorable_json({"a\x00": 1}, "attributes") == (
        "attributes",
        "has a key that contains a NUL character (\\x00), which cannot be stored",
    )
    assert problem_sentence("has a key that …") == "Has a key that …."
    assert problem_sentence("contains …", "attributes.a") == "attributes.a contains …."


def test_integer_column_range_is_postgresqls_on_every_database():
    assert integer_column_range(Lead._meta.get_field("employees")) == (0, 2147483647)
    assert integer_column_range(Lead._meta.get_field("credit_score")) == (0, 32767)
    assert integer_column_range(Lead._meta.get_field("name")) is None


class TierCountForm(ColumnRangeFormMixin, forms.Form):
    column_model = FeeTier
    min_monthly_referrals = forms.IntegerField(validators=[MinValueValidator(2, "From two on.")])
    unrelated = forms.IntegerField()


def test_column_range_mixin_keeps_narrower_bounds_and_their_messages():
    form = TierCountForm({"min_monthly_referrals": "1", "unrelated": "99999999999999"})

    assert form.errors == {"min_monthly_referrals": ["From two on."]}
    field = form.fields["min_monthly_referrals"]
    assert (field.min_value, field.max_value) == (2, 2147483647)
    assert field.widget.attrs == {"min": "2", "max": "2147483647"}
    assert TierCountForm({"min_monthly_referrals": "2147483648", "unrelated": "1"}).errors == {
        "min_monthly_referrals": ["Ensure this value is less than or equal to 2147483647."]
    }
