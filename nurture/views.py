# Placeholder: the nurture pages are being written.
from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


enrollment_list = enrollment_action = track_list = task_list = task_done = lead_enroll = lead_reply = _todo
