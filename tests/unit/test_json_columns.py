"""JSON columns: what the engine writes and reads back, whichever JSON library handles it."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shared.db.engine import json_text, json_value, make_engine

values = sa.Table("values", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("doc", sa.JSON))


def test_integer_keys_are_written_as_the_standard_library_writes_them() -> None:
    assert json.loads(json_text({1: "a", "b": [1, 2]})) == {"1": "a", "b": [1, 2]}


def test_an_integer_beyond_64_bits_is_still_written() -> None:
    assert json_value(json_text({"n": 2**70})) == {"n": 2**70}


def test_a_lone_surrogate_is_written_escaped_for_the_database_to_judge() -> None:
    assert json_text({"s": "\ud800"}) == '{"s": "\\ud800"}'


def test_text_that_only_the_standard_library_reads_is_read() -> None:
    assert json_value('{"x": NaN}')["x"] != json_value('{"x": NaN}')["x"]  # NaN is not equal to itself


async def test_a_document_round_trips_through_the_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'json.db'}")
    document = {"name": "Zoë", "tags": ["a", "b"], "nested": {"n": 2**70, "none": None}}
    try:
        async with engine.begin() as conn:
            await conn.run_sync(values.metadata.create_all)
            await conn.execute(values.insert(), [{"id": 1, "doc": document}])
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(values.c.doc))).scalar_one() == document
    finally:
        await engine.dispose()
