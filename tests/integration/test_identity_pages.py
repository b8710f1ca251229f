"""The customer page's identity work over a real read model (SQLite and PostgreSQL): claimed
addresses with unlink, linking one, finding and confirming a merge, the merged record's page
leading to the merged one, unmerge; and a mail's evidence when its entry opens."""

from __future__ import annotations

import re

import pytest

from services.projector.timeline.rows import customer_id_for
from services.projector.timeline.writer import TimelineWriter
from services.projector.web import identity
from tests import timeline_factories as f
from tests.integration.test_web_pages import actions, log_in, site  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration
ERIKA, ERIKA_TOO = customer_id_for("K-1"), customer_id_for("K-2")


@pytest.fixture(autouse=True)
def no_waiting_for_a_projector(monkeypatch):
    # these tests publish into memory: nothing would ever project the action
    monkeypatch.setattr(identity, "SETTLE_SECONDS", 0)


async def second_record(site) -> None:  # noqa: F811
    await TimelineWriter(site.engine).write([f.registered("K-2", "Erika Muster", emails=("e.muster@mail.example",)),
                                             f.mail(900, "e.muster@mail.example", 900, subject="From my other address")])


async def test_the_customer_page_lists_claimed_addresses_with_unlink_and_a_link_form(site):  # noqa: F811
    await log_in(site, "agent-token-1")
    page = (await site.get(f"/customers/{ERIKA}")).text
    assert 'data-identifier="email:erika@example.org"' in page and 'data-identifier="phone:+4915112345678"' in page
    assert page.count('name="unlink" value="1"') == 2
    assert 'action="/customers/%s/identifiers"' % ERIKA in page


async def test_linking_and_unlinking_from_the_page_publish_contact_events(site):  # noqa: F811
    csrf = await log_in(site, "agent-token-1")
    done = await site.post(f"/customers/{ERIKA}/identifiers", data={"csrf_token": csrf, "kind": "phone", "value": "+49 30 999888"})
    assert done.status_code == 303 and done.headers["location"] == f"/customers/{ERIKA}?identity_note=linked"
    removed = await site.post(f"/customers/{ERIKA}/identifiers",
                              data={"csrf_token": csrf, "kind": "email", "value": "erika@example.org", "unlink": "1"})
    assert removed.headers["location"] == f"/customers/{ERIKA}?identity_note=unlinked"
    linked, unlinked = actions(site.published)
    assert (linked.type, linked.payload.identifier.value, linked.payload.actor.name) == ("contact.linked", "+4930999888", "anna")
    assert (unlinked.type, unlinked.payload.identifier.value) == ("contact.unlinked", "erika@example.org")
    refused = await site.post(f"/customers/{ERIKA}/identifiers", data={"csrf_token": csrf, "kind": "phone", "value": "+4915112345678"})
    assert "already+belongs" in refused.headers["location"]
    page = (await site.get(refused.headers["location"])).text
    assert "already belongs to this customer" in page
    forged = await site.post(f"/customers/{ERIKA}/identifiers", data={"csrf_token": "nope", "kind": "phone", "value": "+4930999888"})
    assert forged.status_code == 403 and len(actions(site.published)) == 2


async def test_merge_is_found_by_search_confirmed_then_published(site):  # noqa: F811
    await second_record(site)
    csrf = await log_in(site, "agent-token-1")
    found = (await site.get(f"/customers/{ERIKA}", params={"merge_q": "e.muster@mail.example"})).text
    assert f'data-merge-with="{ERIKA_TOO}"' in found
    confirm = (await site.get(f"/customers/{ERIKA}", params={"merge_with": ERIKA_TOO})).text
    assert 'id="merge-confirm"' in confirm and "Merge Erika Muster (K-2) into Erika Muster (K-1)?" in confirm
    assert not actions(site.published)  # nothing happens before the confirmation
    done = await site.post(f"/customers/{ERIKA}/merge", data={"csrf_token": csrf, "other_id": ERIKA_TOO})
    assert done.headers["location"] == f"/customers/{ERIKA}?identity_note=merged"
    (event,) = actions(site.published)
    assert (event.type, event.payload.customer_ref, event.payload.into_customer_ref) == ("customer.merged", "K-2", "K-1")


async def test_a_merged_records_page_leads_to_the_merged_one_which_offers_unmerge(site):  # noqa: F811
    await second_record(site)
    await TimelineWriter(site.engine).write([f.merged("K-2", "K-1", minute=1000)])
    csrf = await log_in(site, "agent-token-1")
    moved = await site.get(f"/customers/{ERIKA_TOO}")
    assert moved.status_code == 303 and moved.headers["location"] == f"/customers/{ERIKA}?merged_from={ERIKA_TOO}"
    page = (await site.get(moved.headers["location"])).text
    assert "Erika Muster (K-2) is merged into this record" in page
    assert f'data-merged="{ERIKA_TOO}"' in page and f'action="/customers/{ERIKA_TOO}/unmerge"' in page
    assert "From my other address" in page  # its history is on this timeline
    done = await site.post(f"/customers/{ERIKA_TOO}/unmerge", data={"csrf_token": csrf})
    assert done.headers["location"] == f"/customers/{ERIKA}?identity_note=unmerged"
    (event,) = actions(site.published)
    assert (event.type, event.payload.customer_ref) == ("customer.unmerged", "K-2")


async def test_an_opened_mail_shows_its_class_reasons_threading_and_the_mail_it_bounced(site):  # noqa: F811
    bounce = f.mail(901, "erika@example.org", 950, subject="Undelivered Mail Returned to Sender", classification="bounce")
    bounce = bounce.model_copy(update={"payload": bounce.payload.model_copy(update={
        "bounced_message_id": "<m3@example.org>", "classification_reasons": ("multipart/report; report-type=delivery-status",),
        "thread_evidence": "in_reply_to", "thread_key": "msgid:<m3@example.org>"})})
    await TimelineWriter(site.engine).write([bounce])
    await log_in(site, "agent-token-1")
    page = (await site.get(f"/customers/{ERIKA}")).text
    entry_id = re.search(r'id="entry-([0-9a-f-]+)"', page).group(1)  # newest first: the bounce
    detail = (await site.get(f"/entries/{entry_id}")).text
    assert "bounce" in detail and "multipart/report; report-type=delivery-status" in detail
    assert "joined by In-Reply-To" in detail and "&lt;m3@example.org&gt;" in detail
    bounced = re.search(r'href="/entries/([0-9a-f-]+)/open"', detail).group(1)
    opened = await site.get(f"/entries/{bounced}/open")
    assert opened.headers["location"] == f"/customers/{ERIKA}?open={bounced}#entry-{bounced}"
    thread = await site.get(f"/entries/{entry_id}/thread")
    assert thread.headers["location"] == f"/entries/{bounced}/open"  # <m3@example.org> is that mail


async def test_a_forged_link_form_is_refused_on_the_page_never_a_server_error(site):  # noqa: F811
    csrf = await log_in(site, "agent-token-1")
    for form in ({"kind": "fax", "value": "0301234"}, {"kind": "order_ref", "value": "A" * 5000}, {"kind": "email", "value": ""}):
        answer = await site.post(f"/customers/{ERIKA}/identifiers", data={"csrf_token": csrf, **form})
        assert answer.status_code == 303 and "identity_error=" in answer.headers["location"]
    merged = await site.post(f"/customers/{ERIKA}/merge", data={"csrf_token": csrf, "other_id": "x" * 300})
    assert merged.status_code == 303 and "identity_error=" in merged.headers["location"]
    unmerged = await site.post("/customers/nobody/unmerge", data={"csrf_token": csrf})
    assert unmerged.status_code == 303 and "identity_error=" in unmerged.headers["location"]
    assert actions(site.published) == []


async def test_the_merged_records_open_complaints_show_on_the_merged_page(site):  # noqa: F811
    from datetime import UTC, datetime

    from services.projector.complaints.tables import complaints

    await second_record(site)
    await TimelineWriter(site.engine).write([f.merged("K-2", "K-1", minute=1000)])
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    row = {"origin": "email", "channel": "email", "priority": "high", "state": "ok", "opened_at": now,
           "reopen_count": 0, "updated_at": now, "email": "e.muster@mail.example"}
    async with site.engine.begin() as conn:
        await conn.execute(complaints.insert(), [
            {**row, "complaint_id": "CP-open", "subject": "Broken lid, still waiting", "status": "open"},
            {**row, "complaint_id": "CP-done", "subject": "Old and settled", "status": "resolved"},
        ])
    await log_in(site, "agent-token-1")
    page = (await site.get(f"/customers/{ERIKA}")).text
    assert "Open complaints of merged records" in page
    assert "Broken lid, still waiting" in page and "Old and settled" not in page
