"""What the database can store, the same on every database: text without NUL characters, integers in their
column's range. Checked where input arrives (forms, the API's schemas, a middleware for URLs and posted fields),
so bad input is a message naming the field instead of a database error.

- `unstorable_text(text)`: why a string cannot be stored (PostgreSQL refuses NUL, no database takes a lone
  surrogate), or None.
- `unstorable_json(value)`: the first key or string in a JSON value that cannot be stored: (its path, why).
- `integer_column_range(model_field)`: the (min, max) of an integer column as PostgreSQL sizes it. SQLite would
  store any 64-bit integer, so one range for every database means what saves on one saves on the other.
- `ColumnRangeFormMixin`: a form whose integer fields refuse what their column cannot hold (a ModelForm's own
  model, or `column_model` for a plain form whose fields are named after a model's), and `value_ranges` what the
  data cannot mean.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

# A duration in hours that is added to now (a step's delay, an SLA, an acceptance window): ten years at most, so the
# moment it gives stays in the calendar (the column alone would take 245,000 years).
HOURS_RANGE = (0, 24 * 365 * 10)
NUL_MESSAGE = "contains a NUL character (\\x00), which cannot be stored"
NOT_UNICODE_MESSAGE = "is not valid Unicode text (a lone surrogate)"


def unstorable_text(text: str) -> str | None:
    """Why `text` cannot be stored, as the end of a sentence that starts with the field's name; None when it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return NOT_UNICODE_MESSAGE
    return None


def problem_sentence(problem: str, where: str = "") -> str:
    """A problem from `unstorable_text`/`unstorable_json` as a sentence for a field's list of errors:
    "Contains a NUL character…" for the field itself, "attributes.colour contains a NUL character…" inside it."""
    return f"{where} {problem}." if where else f"{problem[:1].upper()}{problem[1:]}."


def unstorable_json(value, path: str = "") -> tuple[str, str] | None:
    """The first key or string inside a JSON-shaped value (dicts, lists, scalars) that cannot be stored, as (its
    dotted path below `path`, why); None when everything can."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            problem = unstorable_text(item)
            if problem:
                return where, problem
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = unstorable_text(str(key))
                if problem:
                    return where, f"has a key that {problem}"
                stack.append((f"{where}.{key}" if where else str(key), child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}.{index}" if where else str(index), child) for index, child in enumerate(item))
    return None


def integer_column_range(field: models.Field) -> tuple[int, int] | None:
    """(min, max) of an integer model field's column on PostgreSQL (Django's standard column sizes); None when the
    field is not an integer column."""
    if not isinstance(field, models.IntegerField):
        return None
    return BaseDatabaseOperations.integer_field_ranges.get(field.get_internal_type())


def column_ranges(model: type[models.Model]) -> dict[str, tuple[int, int]]:
    """Field name -> (min, max) for each integer column of `model`."""
    ranges = {}
    for field in model._meta.get_fields():
        bounds = integer_column_range(field) if isinstance(field, models.Field) else None
        if bounds is not None:
            ranges[field.name] = bounds
    return ranges


def bound_fields(form, *ranges: dict) -> None:
    """Narrow each numeric field of `form` named in `ranges` (several dicts: every bound applies) to the narrowest
    (min, max), the form's own bounds included: one validator each way (a form error, never a database overflow)
    and the input's min/max."""
    for name, form_field in form.fields.items():
        bounds = [r[name] for r in ranges if name in r]
        if not bounds or not hasattr(form_field, "min_value"):
            continue
        own = {
            kind: [v.limit_value for v in form_field.validators if isinstance(v, kind) and not callable(v.limit_value)]
            for kind in (MinValueValidator, MaxValueValidator)
        }
        low = max([bound[0] for bound in bounds] + own[MinValueValidator])
        high = min([bound[1] for bound in bounds] + own[MaxValueValidator])
        form_field.min_value, form_field.max_value = low, high
        for kind, limit in ((MinValueValidator, low), (MaxValueValidator, high)):  # a validator's own message stays
            kept = [v for v in form_field.validators if not isinstance(v, kind) or v.limit_value == limit]
            form_field.validators = kept if any(isinstance(v, kind) for v in kept) else [*kept, kind(limit)]
        form_field.widget.attrs.update({"min": str(low), "max": str(high)})


class ColumnRangeFormMixin:
    """Mix into a form before `forms.Form`/`forms.ModelForm`: each integer field named like an integer column of
    its model (a ModelForm's own, or `column_model`) refuses what that column cannot hold; `value_ranges` narrows
    fields further to what the data can mean."""

    column_model: type[models.Model] | None = None
    value_ranges: dict = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        meta = getattr(self, "_meta", None)
        model = self.column_model or getattr(meta, "model", None)
        bound_fields(self, column_ranges(model) if model is not None else {}, self.value_ranges)
