"""Closing a month while something is being posted, with two connections (PostgreSQL row locks): the posting waits
for the close and lands on the first open day, never in the month just closed."""

import threading
import time
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from finance import services
from finance.models import Payment
from partners.models import LedgerLock
from tests.factories import PartnerFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def test_a_payment_posted_while_its_month_is_being_closed_goes_to_the_first_open_day():
    partner = PartnerFactory()
    LedgerLock.objects.get_or_create(pk=1)
    last_day = timezone.localdate().replace(day=1) - timedelta(days=1)
    closing = threading.Event()
    errors: list[BaseException] = []

    def close_the_month():
        try:
            with transaction.atomic():
                services.period_lock(month=last_day)
                closing.set()
                time.sleep(1.0)  # the close is not committed yet: the lock row stays locked for update
        except BaseException as exc:
            errors.append(exc)
        finally:
            closing.set()
            connections.close_all()

    def record_a_payment_dated_in_that_month():
        try:
            closing.wait(10)
            services.payment_record(partner=partner, amount=D("10.00"), currency="EUR", received_on=last_day)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=close_the_month), threading.Thread(target=record_a_payment_dated_in_that_month)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    payment = Payment.objects.get()
    assert (payment.received_on, payment.posted_on) == (last_day, last_day + timedelta(days=1))
    assert LedgerLock.objects.get().locked_through == last_day
