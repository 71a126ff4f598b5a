# Placeholder: the partner's response page is being written.
from django.http import HttpResponse


def partner_link(request, token):
    return HttpResponse(status=501)
