"""The complaint forms of the web pages: what each form asks `decide` for, and where the
browser goes afterwards (back to the page it came from, never off the site)."""

from __future__ import annotations

from services.projector.complaints import decide as d
from services.projector.web.complaint_work import back, command_for


def test_each_form_asks_for_its_action_in_the_name_of_the_signed_in_user():
    respond = command_for("respond", "cmp-1", "anna", "called back", "", "")
    assert isinstance(respond, d.Respond) and (respond.actor.name, respond.note) == ("anna", "called back")
    assert isinstance(command_for("resolve", "cmp-1", "anna", None, "", ""), d.Resolve)
    assert isinstance(command_for("reopen", "cmp-1", "anna", None, "", ""), d.Reopen)
    assert isinstance(command_for("resume", "cmp-1", "anna", None, "", ""), d.Resume)
    pause = command_for("pause", "cmp-1", "anna", None, "waiting_for_customer", "")
    assert isinstance(pause, d.Pause) and pause.reason == "waiting_for_customer"
    priority = command_for("priority", "cmp-1", "lena", None, "", "urgent")
    assert isinstance(priority, d.ChangePriority) and priority.priority == "urgent"


def test_a_pause_without_a_known_reason_or_an_unknown_priority_is_sent_back_with_what_to_choose():
    assert "waiting_for_customer" in command_for("pause", "cmp-1", "anna", None, "lunch", "")
    assert "urgent" in command_for("priority", "cmp-1", "lena", None, "", "extreme")


def test_the_browser_returns_to_the_page_it_came_from_with_the_outcome_and_its_filters():
    answer = back("/complaints?team=care&complaint=old&complaint_done=pause", "cmp-1", done="resolve")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/complaints?team=care&complaint=cmp-1&complaint_done=resolve#complaint-cmp-1"
    failed = back("/customers/c-1", "cmp-1", error="the complaint is resolved already")
    assert failed.headers["location"] == ("/customers/c-1?complaint=cmp-1&complaint_error=the+complaint+is+resolved+already"
                                          "#complaint-cmp-1")


def test_the_browser_never_goes_off_the_site_after_a_form():
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        assert back(target, "cmp-1", done="resolve").headers["location"].startswith("/complaints?")
