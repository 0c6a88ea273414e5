"""Fast set inserts for the planner: one `INSERT … ON CONFLICT DO NOTHING` executemany of plain tuples.

Django's bulk_create prepares every value of every row through the field machinery (~20 µs a value); the
planner inserts ~100,000 entries and tens of thousands of dispatches on a busy day, where that alone costs
more than the whole plan. Here the columns that vary are adapted with the backend's own adapters and the
others (defaults, auto_now timestamps) are prepared once from the model, so a column added to the model later
with a default is filled correctly without touching this code. `ON CONFLICT DO NOTHING` is what
`ignore_conflicts=True` does, on SQLite (≥ 3.24) and PostgreSQL alike: the unique constraints stay the judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models
from django.utils import timezone

BATCH = 5000


def _adapter(field: models.Field):
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    return None


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert `rows` (tuples in the order of `fields`, attnames like "step_id") into `model`'s table; every
    other concrete column gets its model default (auto_now / auto_now_add: now)."""
    now = timezone.now()
    blank = model()
    columns, constants, varying = [], [], []
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    for name in fields:
        field = by_attname[name]
        columns.append(field.column)
        varying.append(_adapter(field))
    for field in model._meta.concrete_fields:
        if field.attname in fields or field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = getattr(blank, field.attname)
        columns.append(field.column)
        constants.append(field.get_db_prep_save(value, connection))
    constants_tuple = tuple(constants)
    quote = connection.ops.quote_name
    # Table and column names come from the model (quoted), values go as parameters: nothing from input.
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    table = quote(model._meta.db_table)
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608
    # Dates and times repeat a lot (a handful of due dates, one send time): adapt each distinct value once.
    adapted = [i for i, adapt in enumerate(varying) if adapt is not None]
    caches: dict[int, dict] = {i: {None: None} for i in adapted}
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for row in rows:
            if adapted:
                row = list(row)
                for i in adapted:
                    cache = caches[i]
                    value = row[i]
                    if value not in cache:
                        cache[value] = varying[i](value)
                    row[i] = cache[value]
            batch.append((*row, *constants_tuple))
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
