"""PostgreSQL: the import writes new clients as preformatted COPY text (`crm.pgcopy`); the rows
come out as the driver's own row writer writes them, escapes included."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from crm.importing.cleaning import Record
from crm.importing.writer import ClientWriter
from crm.models import Client
from crm.pgcopy import copy_column, copy_text
from loyalty.models import LedgerEntry
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

ODD = ["back\\slash", "tab\there", "two\nlines", "cr\rhere", "plain", "", "Ёлка «ok»"]


def test_copy_column_escapes_as_copy_text():
    assert copy_column(ODD) == [copy_text(v) for v in ODD]
    assert copy_column(["a", "b"]) == ["a", "b"]
    day = dt.date(1990, 2, 3)
    assert copy_column([day, None]) == ["1990-02-03", "\\N"]
    assert copy_column([Decimal("1.50"), None, True]) == ["1.50", "\\N", "t"]
    assert copy_column([object()]) is None


def _records() -> list[Record]:
    """Each column holds one kind of escape only (the column is checked as a whole)."""
    names = ["back\\slash", "plain", "Ёлка «ok»", ""]
    return [
        Record(
            row=i + 2,
            phone=f"+7913000{i:04d}",
            full_name=names[i % len(names)],
            birthday=dt.date(1980, 1 + i % 12, 1 + i % 28) if i % 3 else None,
            email=f"u{i}@example.com" if i % 2 else "",
            gender="mf"[i % 2] if i % 4 else "",
            card_code=f"{1000 + i}\t" if i % 5 == 0 else "",
            source_detail="cr\rhere" if i % 3 == 0 else "x",
            points=Decimal(f"{i}.25") if i % 4 == 1 else None,
            note=f"Колонка: {i}\nДругая: {i}" if i % 2 else "",
        )
        for i in range(40)
    ]


def _written(merchant) -> list[tuple]:
    rows = Client.objects.filter(merchant=merchant).values_list(
        "phone",
        "full_name",
        "birthday",
        "email",
        "gender",
        "card_code",
        "source",
        "source_detail",
        "notes",
        "balance",
        "imported",
        "consent",
        "created_at",
    )
    return sorted(rows)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_text_writes_what_the_driver_writes():
    now = timezone.now()
    merchants = MerchantFactory(slug="as-text"), MerchantFactory(slug="by-driver")
    outcomes = []
    for merchant in merchants:
        writer = ClientWriter(
            merchant=merchant, overwrite=False, dry_run=False, user_id=None, reason="", now=now
        )
        if merchant.slug == "by-driver":
            writer._copy_tail = None  # the driver's row writer
        else:
            assert writer._copy_data(_records(), list(range(40))) is not None
        outcomes.append(writer.apply(_records()))
    assert outcomes[0].created == outcomes[1].created == 40
    text, driver = (_written(m) for m in merchants)
    assert text == driver
    assert {row[1] for row in text} == {"back\\slash", "plain", "Ёлка «ok»", ""}
    assert "1000\t" in {row[5] for row in text} and "cr\rhere" in {row[7] for row in text}
    entries = [
        sorted(
            LedgerEntry.objects.filter(client__merchant=m).values_list("client__phone", "points")
        )
        for m in merchants
    ]
    assert entries[0] == entries[1] and len(entries[0]) == 10
