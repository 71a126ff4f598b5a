# Placeholder: the triage workspace is being written.
from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


queue = counts = bulk = panel = refer = enroll = reply = close = override = assign = _todo
