"""`POST /api/v1/enrollments`: a source system puts one of its leads on a nurture track (e.g. a webinar tool
enrolling attendees who are not ready to buy). The same enrollment service as the pages, so consent,
do-not-contact and "one live enrollment per lead" hold here too."""

from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from leads.api import ERRORS, ApiKeyBearer, ApiKeyHeader, ApiKeyRateThrottle, ErrorOut
from leads.api_inputs import InputSchema
from leads.models import ApiKey, Lead
from nurture.models import Track
from nurture.services import NurtureError, enrollment_create

router = Router(auth=[ApiKeyHeader(), ApiKeyBearer()], throttle=[ApiKeyRateThrottle()], tags=["nurture"])


class EnrollmentIn(InputSchema):
    external_id: Annotated[str, Field(min_length=1, max_length=100, description="Your id of a lead you sent us.")]
    track: Annotated[str, Field(min_length=1, max_length=60, description="The track's slug.")]


class EnrollmentOut(Schema):
    id: int
    external_id: str
    track: str
    status: str
    next_run_at: datetime | None


@router.post("", response={201: EnrollmentOut, 404: ErrorOut, **ERRORS})
def enrollment_post(request: HttpRequest, payload: EnrollmentIn):
    """Enroll the lead this source sent as `external_id` in the track `track`: the same service as every page, so
    a track whose first step is an email at once sends it now (the lead's answer). 422 when it may not join (no
    marketing consent for a track that emails, do-not-contact, already in a track, qualified, or a track that
    writes later for a lead nobody has answered yet)."""
    api_key: ApiKey = request.auth
    lead = Lead.objects.filter(source=api_key.source, external_id=payload.external_id).first()
    if lead is None:
        raise HttpError(404, "No lead with this external_id for your source.")
    track = Track.objects.filter(slug=payload.track).first()
    if track is None:
        return Status(422, {"detail": "Validation failed", "errors": {"track": ["No track with this slug."]}})
    try:
        enrollment = enrollment_create(
            lead=lead, track=track, actor_label=f"api:{api_key.source.slug}:{api_key.prefix}"
        )
    except NurtureError as exc:
        return Status(422, {"detail": "Validation failed", "errors": {"track": [str(exc)]}})
    return Status(
        201,
        {
            "id": enrollment.pk,
            "external_id": lead.external_id,
            "track": track.slug,
            "status": enrollment.status,
            "next_run_at": enrollment.next_run_at,
        },
    )
