"""The one error every service raises when it refuses: a sentence for the person who tried, and, when the input
was at fault, messages per field. Views render it the same way everywhere (`common.htmx`: the messages out of
band and the fields' errors on the form, status 422), and the API as a 422 with `errors` per field.

Apps subclass it to name their refusals (`ReferralError`, `NurtureError`, …) so a caller may catch one kind, but
every door that only needs to refuse catches `ServiceError`.
"""


class ServiceError(Exception):
    """A refusal: `message` says why; `errors` maps a field name to its messages (empty when no field is at
    fault). `status` is what a view answers with (422: the request was understood and refused)."""

    status = 422

    def __init__(self, message: str = "", errors: dict[str, list[str]] | None = None):
        self.errors = {field: list(messages) for field, messages in (errors or {}).items()}
        if not message:
            message = "; ".join(f"{field}: {', '.join(messages)}" for field, messages in self.errors.items())
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
