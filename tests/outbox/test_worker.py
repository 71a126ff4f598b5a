"""The outbox with real Celery workers on the configured broker (Redis in CI): a send task delivered twice
sends one email; with the broker down the referral is still saved and the email goes out after the sweep;
the beat task that expires unanswered introductions re-offers the lead."""

import os
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from config.celery_app import app
from config.models import Heartbeat
from config.settings.base import broker_publish_options
from config.tasks import heartbeat
from outbox import publish
from outbox.models import MessageStatus, OutboundMessage
from outbox.tasks import send_message
from outbox.tasks import sweep as outbox_sweep
from partners.models import Referral
from partners.services import referral_send
from partners.tasks import expire_referrals
from tests.factories import ConsentingLeadFactory, FeeAgreementFactory
from tests.workers import celery_worker, wait_for

DEAD_BROKER = "redis://127.0.0.1:9/0"  # port 9 (discard): nothing listens, connections are refused


@pytest.fixture(autouse=True)
def broker_pause_reset():
    publish.broker_pause_reset()
    yield
    publish.broker_pause_reset()


@pytest.fixture
def mail_dir(tmp_path) -> Path:
    path = tmp_path / "mail"
    path.mkdir()
    return path


@pytest.fixture
def queue() -> str:
    return f"test-outbox-{uuid.uuid4().hex[:8]}"


def emails_in(path: Path) -> list[str]:
    return [f.read_text() for f in sorted(path.iterdir())]


def drain(queue: str) -> None:
    """Wait until the (solo, in-order) worker has handled everything queued before this call."""
    name = f"sentinel-{uuid.uuid4().hex[:8]}"
    heartbeat.apply_async(kwargs={"name": name}, queue=queue)
    assert wait_for(lambda: Heartbeat.objects.filter(name=name).exists())


@contextmanager
def broker_down():
    """Point this process's Celery app at a port where no broker listens (the CELERY_BROKER_URL variable
    wins over settings in Celery), with the transport options the settings give that URL, forgetting pooled
    connections before and after."""
    saved_env, saved_conf = os.environ.get("CELERY_BROKER_URL"), app.conf.broker_url
    saved_options = app.conf.broker_transport_options
    os.environ["CELERY_BROKER_URL"] = app.conf.broker_url = DEAD_BROKER
    app.conf.broker_transport_options = broker_publish_options(DEAD_BROKER)
    app._pool, app.amqp._producer_pool = None, None
    try:
        yield
    finally:
        if saved_env is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        app.conf.broker_url, app.conf.broker_transport_options = saved_conf, saved_options
        app._pool, app.amqp._producer_pool = None, None


@pytest.mark.django_db(transaction=True)
def test_send_task_delivered_twice_sends_one_email(mail_dir, queue):
    with transaction.atomic():
        referral = referral_send(lead=ConsentingLeadFactory(), partner=FeeAgreementFactory().partner, mode="introduce")
    message = OutboundMessage.objects.get(referral=referral, kind="partner_introduction")

    with celery_worker(queue, env={"PASSTHROUGH_TEST_MAIL_DIR": str(mail_dir)}):
        send_message.apply_async(kwargs={"message_id": message.pk}, queue=queue)
        send_message.apply_async(kwargs={"message_id": message.pk}, queue=queue)
        drain(queue)

    emails = emails_in(mail_dir)
    assert len(emails) == 1
    assert referral.tracking_code in emails[0]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)


@pytest.mark.django_db(transaction=True)
def test_broker_down_keeps_the_referral_and_the_sweep_sends_the_email(mail_dir, queue, caplog):
    with broker_down(), transaction.atomic():
        referral = referral_send(lead=ConsentingLeadFactory(), partner=FeeAgreementFactory().partner, mode="introduce")

    message = OutboundMessage.objects.get(referral=referral, kind="partner_introduction")
    assert Referral.objects.filter(pk=referral.pk, status="sent").exists()
    assert message.status == MessageStatus.QUEUED
    assert "outbox sweep will pick it up" in caplog.text

    with celery_worker(queue, env={"PASSTHROUGH_TEST_MAIL_DIR": str(mail_dir)}):
        outbox_sweep.apply_async(queue=queue)  # what beat runs every minute
        drain(queue)

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert [referral.tracking_code in email for email in emails_in(mail_dir)] == [True, True]  # partner, lead
    assert not OutboundMessage.objects.exclude(status=MessageStatus.SENT).exists()


@pytest.mark.django_db(transaction=True)
def test_expiry_task_in_a_worker_reoffers_the_lead_to_the_next_partner(mail_dir, queue):
    lead = ConsentingLeadFactory()
    first, second = FeeAgreementFactory(partner__grade="A").partner, FeeAgreementFactory(partner__grade="C").partner
    with transaction.atomic():
        referral = referral_send(lead=lead, partner=first, mode="introduce")
    Referral.objects.filter(pk=referral.pk).update(respond_by=timezone.now() - timedelta(minutes=1))

    with celery_worker(queue, env={"PASSTHROUGH_TEST_MAIL_DIR": str(mail_dir)}):
        expire_referrals.apply_async(queue=queue)  # what beat runs every five minutes
        drain(queue)

    referral.refresh_from_db()
    assert referral.status == "expired"
    reoffered = Referral.objects.get(lead=lead, partner=second)
    assert (reoffered.status, reoffered.mode) == ("sent", "introduce")
    assert list(lead.events.filter(verb__startswith="referral").values_list("verb", flat=True)) == ["referral_expired"]
    assert lead.events.filter(verb="referred").count() == 2
