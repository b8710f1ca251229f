"""The read model's row values: copies with fields set anew."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from services.projector.timeline.rows import CustomerRow, EntryRow, IdentityRow, changed

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ENTRY = EntryRow(id="e1", entry_key="mail:1", owner_id="o1", contact_id="c1", event_id="ev1", type="email.received",
                 channel="email", direction="inbound", occurred_at=AT, recorded_at=AT, summary="Hello",
                 details={"subject": "Hello"}, email="anna@example.org")


@pytest.mark.parametrize(("row", "values"), [
    (ENTRY, {"owner_id": "o2", "ambiguous": True, "candidates": ("o2", "o3")}),
    (CustomerRow(id="k1", kind="customer", customer_ref="K-1"), {"merged_into": "k2", "merged_at": AT, "merged_by": "Lea"}),
    (IdentityRow("email", "anna@example.org", ("k1",)), {"hard_bounced_at": AT}),
])
def test_a_changed_row_equals_what_dataclasses_replace_makes(row, values):
    copy = changed(row, **values)
    assert copy == dataclasses.replace(row, **values)
    assert type(copy) is type(row)
    assert row != copy  # the original is left as it was


def test_a_changed_row_is_still_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed(ENTRY, owner_id="o2").owner_id = "o3"  # type: ignore[misc]


def test_changing_a_field_a_row_does_not_have_is_refused():
    with pytest.raises(TypeError, match="owner"):
        changed(CustomerRow(id="k1", kind="customer"), owner_id="o1")
