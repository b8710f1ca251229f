"""A mail's timeline entry keeps the evidence the page shows: its class and the reasons, how it
was threaded with the Message-ID that decided it, and for a bounce the mail it reports."""

from __future__ import annotations

import pytest

from services.projector.timeline.entries import mail_entry
from tests import timeline_factories as f


def with_payload(**changes):
    event = f.mail(1, "erika@example.org", 0)
    return event.model_copy(update={"payload": event.payload.model_copy(update=changes)})


@pytest.mark.parametrize(("evidence", "key", "ref"), [
    ("references", "msgid:<root@example.org>", "<root@example.org>"),
    ("in_reply_to", "msgid:<parent@example.org>", "<parent@example.org>"),
    ("message_id", "msgid:<m1@example.org>", "<m1@example.org>"),
    ("subject", "subject:0123456789abcdef", None),
    ("none", "mail:0123456789abcdef", None),
])
def test_the_entry_names_how_the_mail_was_threaded_and_by_which_message_id(evidence, key, ref):
    details = mail_entry(with_payload(thread_evidence=evidence, thread_key=key)).details
    assert (details["thread_evidence"], details["thread_ref"]) == (evidence, ref)


def test_an_auto_reply_keeps_its_class_and_the_reasons_it_was_recognised_by():
    details = mail_entry(with_payload(classification="auto_reply", classification_reasons=("Auto-Submitted: auto-replied",))).details
    assert (details["classification"], details["classification_reasons"]) == ("auto_reply", ["Auto-Submitted: auto-replied"])


def test_a_bounce_keeps_the_message_id_of_the_mail_it_reports():
    details = mail_entry(with_payload(classification="bounce", bounced_message_id="<m0@example.org>")).details
    assert details["bounced_message_id"] == "<m0@example.org>" and details["bounced_entry_id"] is None
