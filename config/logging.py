"""Logging filters. Signed links are credentials: keep them out of the logs."""

import logging
import re

# /r/<token>/ (partner response links) and /u/<token>/ (unsubscribe links)
SIGNED_PATH = re.compile(r"(/[ru]/)[^/\s\"']+")


class RedactSignedLinks(logging.Filter):
    """Blank the token of signed links in a record's message and arguments (django.request logs paths)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = SIGNED_PATH.sub(r"\1…", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(SIGNED_PATH.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args)
        request = getattr(record, "request", None)
        if request is not None and SIGNED_PATH.search(getattr(request, "path", "")):
            record.request = None  # the handler would print the request's full path
        return True
