import logging

from config.logging import RedactSignedLinks


def test_redact_signed_links_blanks_tokens_in_message_and_arguments():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Gone: %s", ("/r/eyJyIjoxfQ:1xV:abc/",), None
    )
    record.request = type("Request", (), {"path": "/r/eyJyIjoxfQ:1xV:abc/"})()

    RedactSignedLinks().filter(record)

    assert record.getMessage() == "Gone: /r/…/"
    assert record.request is None


def test_redact_signed_links_leaves_other_paths_alone():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/leads/12/",), None)

    RedactSignedLinks().filter(record)

    assert record.getMessage() == "Not Found: /leads/12/"
