from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import Charge, ImportBatch
from billing.segments import charges_for_segment, segment_as_json
from billing.tests.factories import ChargeFactory
from cobranca.exceptions import ApplicationError

TODAY = dt.date(2026, 3, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def charges():
    batch = ImportBatch.objects.create(filename="a.json", file_format="json")
    return {
        "small_overdue": ChargeFactory(amount=Decimal("50"), due_date=TODAY - dt.timedelta(days=40)),
        "big_overdue": ChargeFactory(
            amount=Decimal("1500"), due_date=TODAY - dt.timedelta(days=5), import_batch=batch
        ),
        "future": ChargeFactory(amount=Decimal("300"), due_date=TODAY + dt.timedelta(days=10)),
        "paid": ChargeFactory(
            amount=Decimal("300"), due_date=TODAY - dt.timedelta(days=10), status=Charge.Status.PAID
        ),
        "batch": batch,
    }


def names(queryset, charges) -> set[str]:
    by_pk = {c.pk: k for k, c in charges.items() if k != "batch"}
    return {by_pk[c.pk] for c in queryset}


def test_an_empty_segment_selects_every_charge(charges):
    assert names(charges_for_segment({}, today=TODAY), charges) == {
        "small_overdue",
        "big_overdue",
        "future",
        "paid",
    }


def test_it_filters_by_amount_range_with_brazilian_amounts(charges):
    selected = charges_for_segment({"min_amount": "100", "max_amount": "R$ 1.000,00"}, today=TODAY)

    assert names(selected, charges) == {"future", "paid"}


def test_it_filters_by_days_overdue_and_status(charges):
    selected = charges_for_segment(
        {"min_days_overdue": 1, "max_days_overdue": 30, "statuses": ["open"]}, today=TODAY
    )

    assert names(selected, charges) == {"big_overdue"}


def test_it_filters_by_due_dates_and_import_batch(charges):
    assert names(
        charges_for_segment({"due_from": "01/02/2026", "due_to": "2026-03-31"}, today=TODAY), charges
    ) == {"big_overdue", "future", "paid"}
    assert names(charges_for_segment({"import_batch": charges["batch"].pk}, today=TODAY), charges) == {
        "big_overdue"
    }


def test_the_queryset_brings_the_client_along(charges, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert all(c.client.name for c in charges_for_segment({}, today=TODAY))


@pytest.mark.parametrize(
    ("segment", "field"),
    [
        ({"min_amount": "abc"}, "min_amount"),
        ({"due_from": "31/02/2026"}, "due_from"),
        ({"statuses": ["aberta"]}, "statuses"),
        ({"min_days_overdue": "x"}, "min_days_overdue"),
        ({"min_amount": "100", "max_amount": "10"}, "min_amount"),
        ({"import_batch": 99999}, "import_batch"),
        ({"color": "red"}, "color"),
    ],
)
def test_an_invalid_segment_names_the_field(segment, field):
    with pytest.raises(ApplicationError) as exc_info:
        charges_for_segment(segment)

    assert exc_info.value.extra["field"] == field


def test_a_segment_serialises_to_json_friendly_values():
    assert segment_as_json({"min_amount": "1.234,50", "due_to": "31/01/2026"}) == {
        "min_amount": "1234.50",
        "due_to": "2026-01-31",
    }
