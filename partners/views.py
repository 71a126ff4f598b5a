# Placeholder: the pages are being written.
from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


partner_list = partner_detail = agreement_create = agreement_edit = referral_list = referral_detail = _todo
referral_outcome = referral_reverse = lead_matches = referral_send = _todo
