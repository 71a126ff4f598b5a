"""A dead broker costs a request nothing: an action that queues an email, through the test client, with the broker
at a closed loopback port or at a socket that accepts and never answers, makes one bounded connection attempt
(no retry loop, no sleeping), answers as usual, and the next action does not try the broker at all; the email
still goes out through the sweep. (Timings are measured by hand, not asserted: see the README.)"""

import os
import socket
import threading
from contextlib import contextmanager
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse

from config.celery_app import app
from config.settings.base import broker_publish_options
from outbox import publish
from outbox.models import MessageStatus, OutboundMessage
from outbox.services import outbox_sweep
from outbox.tasks import send_message
from tests.factories import LeadFactory

CLOSED_PORT = 1  # tcpmux: nothing listens on loopback, connections are refused at once


@pytest.fixture(autouse=True)
def broker_pause_reset():
    publish.broker_pause_reset()
    yield
    publish.broker_pause_reset()


@contextmanager
def silent_broker():
    """A loopback socket that accepts connections and never answers; yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


@contextmanager
def broker_at(url: str):
    """This process's Celery app publishes to `url`, with the transport options the settings give that URL."""
    saved = os.environ.get("CELERY_BROKER_URL"), app.conf.broker_url, app.conf.broker_transport_options
    os.environ["CELERY_BROKER_URL"] = app.conf.broker_url = url
    app.conf.broker_transport_options = broker_publish_options(url)
    app._pool, app.amqp._producer_pool = None, None
    try:
        yield
    finally:
        if saved[0] is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = saved[0]
        app.conf.broker_url, app.conf.broker_transport_options = saved[1], saved[2]
        app._pool, app.amqp._producer_pool = None, None


@contextmanager
def watching_connections(port: int):
    """Every socket connection attempt to 127.0.0.1:`port`, with the socket's timeout when it was made."""
    attempts: list[float | None] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if address[:2] == ("127.0.0.1", port):
            attempts.append(sock.gettimeout())
        return real_connect(sock, address)

    with mock.patch.object(socket.socket, "connect", connect):
        yield attempts


@contextmanager
def spying_on_enqueue():
    """(message id, what enqueue returned) for each delivery the outbox asks a worker for."""
    published, real = [], publish.enqueue

    def spy(task, **kwargs):
        result = real(task, **kwargs)
        published.append((kwargs["message_id"], result))
        return result

    with mock.patch("outbox.publish.enqueue", side_effect=spy):
        yield published


def reply(client, lead, subject: str):
    return client.post(reverse("nurture:lead_reply", args=[lead.pk]), {"subject": subject, "body": "Some resources."})


@pytest.mark.django_db
@pytest.mark.parametrize("broker", ["closed port", "accepts, never answers"])
def test_an_action_with_the_broker_down_tries_it_once_answers_and_the_sweep_sends_the_email(
    sales_client, django_capture_on_commit_callbacks, broker
):
    lead, other = LeadFactory(status="disqualified"), LeadFactory(status="disqualified")
    with silent_broker() as silent_port:
        port = CLOSED_PORT if broker == "closed port" else silent_port
        with (
            broker_at(f"redis://127.0.0.1:{port}/0"),
            watching_connections(port) as attempts,
            mock.patch("kombu.utils.functional.sleep") as retry_sleep,
            spying_on_enqueue() as published,
        ):
            with django_capture_on_commit_callbacks(execute=True):
                first = reply(sales_client, lead, "First")
            tried = list(attempts)
            with django_capture_on_commit_callbacks(execute=True):
                second = reply(sales_client, other, "Second")

    assert (first.status_code, second.status_code) == (302, 302)
    assert published == [(pk, False) for pk in OutboundMessage.objects.order_by("pk").values_list("pk", flat=True)]
    assert len(tried) == 1  # one attempt, for the first action
    assert tried[0] is not None
    assert tried[0] <= 2  # bounded by the connect timeout (1 s) or the read timeout (2 s)
    assert len(attempts) == 1  # the second action left the broker alone
    retry_sleep.assert_not_called()  # no retry loop
    assert list(OutboundMessage.objects.values_list("status", flat=True)) == [MessageStatus.QUEUED] * 2

    assert outbox_sweep() == {"sent": 2}

    assert sorted(email.subject for email in mail.outbox) == ["First", "Second"]
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


def test_the_broker_is_tried_again_after_the_pause():
    clock = [100.0]
    with (
        broker_at(f"redis://127.0.0.1:{CLOSED_PORT}/0"),
        watching_connections(CLOSED_PORT) as attempts,
        mock.patch("outbox.publish.time.monotonic", side_effect=lambda: clock[0]),
    ):
        first = publish.enqueue(send_message, message_id=1)
        clock[0] += publish.BROKER_PAUSE - 1
        during = publish.enqueue(send_message, message_id=2)
        clock[0] += 2
        after = publish.enqueue(send_message, message_id=3)

    assert (first, during, after) == (False, False, False)
    assert len(attempts) == 2  # the first and, after the pause, the third


def test_settings_give_a_network_broker_one_short_attempt():
    assert broker_publish_options("redis://127.0.0.1:6379/0") == {
        "max_retries": 0,
        "socket_connect_timeout": 1,
        "socket_timeout": 2,
    }
    assert broker_publish_options("amqp://guest@127.0.0.1//") == {"max_retries": 0}
