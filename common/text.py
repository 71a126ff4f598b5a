"""Plain text rendered from templates — emails and the previews of them — always as a plain `str`.

Django marks whatever a template renders as safe HTML (a `SafeString`). The text of an email is not HTML: rendered
with autoescape off (so a lead called O'Brien is not written O&#x27;Brien) and then printed in a page, it would be
trusted markup, and a lead named `<img src=x onerror=alert(1)>` would run script for whoever opens the page. So
every plain-text render goes through `render_plain_text`, which renders with autoescape off and returns a plain
`str` that pages escape like any other text. Templates written by people (helpful replies, a track's steps) are
compiled with `compile_plain_text`; either function raises `PlainTextError` with a readable message when the
template cannot be used, so a page that previews it can say so instead of failing."""

from django.template import Context, Template, TemplateDoesNotExist, TemplateSyntaxError, VariableDoesNotExist, engines
from django.urls import NoReverseMatch

# What a broken template raises while it renders: a bad tag or filter argument, an {% include %} or {% extends %}
# of a template that does not exist, a {% url %} that does not resolve, a tag given a value it cannot use.
RENDER_ERRORS = (
    TemplateSyntaxError,
    TemplateDoesNotExist,
    VariableDoesNotExist,
    NoReverseMatch,
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
)


class PlainTextError(ValueError):
    """A template that cannot be compiled or rendered; the message says what is wrong, for a person to fix."""


def _engine():
    return engines["django"].engine


def _problem(exc: Exception) -> str:
    """One or more sentences for a person, ending with its punctuation."""
    if isinstance(exc, TemplateDoesNotExist):
        text = f"It uses a template that does not exist: {exc}."
    elif isinstance(exc, NoReverseMatch):
        text = "It links to a page that does not exist ({% url %})."
    else:
        text = str(exc).strip() or type(exc).__name__
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else f"{text}."


def compile_plain_text(source: str) -> Template:
    """A template written by a person (a reply's body, a step's subject), compiled once to render many times."""
    try:
        return Template(source, engine=_engine())
    except TemplateSyntaxError as exc:
        raise PlainTextError(_problem(exc)) from exc


def render_plain_text(template: str | Template, context: dict) -> str:
    """Render `template` (a template's name, such as "partners/email/signpost.txt", or a compiled `Template`) as
    plain text: autoescape off, the result a plain `str` — never a `SafeString` — so a page that shows it escapes it.
    Raises `PlainTextError` when the template cannot be compiled or rendered."""
    try:
        if isinstance(template, str):
            template = _engine().get_template(template)
        rendered = template.render(Context(context, autoescape=False))
    except RENDER_ERRORS as exc:
        raise PlainTextError(_problem(exc)) from exc
    return str.__str__(rendered)  # a copy as an exact str: SafeString.__str__ would return the SafeString itself
