import hashlib
import hmac
import json
import random
from datetime import UTC, datetime
from email import message_from_bytes

from services.demo.data import demo_customers, merge_candidate
from services.demo.traffic import HttpStep, MailStep, next_scenario, parcel, waiting_callback

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_the_demo_produces_every_channel_and_missed_calls():
    rng = random.Random(7)
    customers = demo_customers()
    names = {next_scenario(rng, customers, NOW, i, "s").name for i in range(300)}
    assert {"mail thread", "form contact", "form complaint", "call (answered)", "call (noAnswer)",
            "parcel (exception)", "parcel (delivered)"} <= names


def test_demo_parcel_updates_are_signed_like_generic_webhooks():
    scenario = parcel(random.Random(1), demo_customers()[0], "secret-1", NOW, exception=True)
    statuses = []
    for step in scenario.steps:
        assert isinstance(step, HttpStep)
        expected = hmac.new(b"secret-1", step.body, hashlib.sha256).hexdigest()
        assert step.headers["X-Touchpoint-Signature"] == expected
        statuses.append(json.loads(step.body)["status"])
    assert statuses[-1] == "exception"


def test_demo_mails_are_well_formed_and_replies_thread():
    rng = random.Random(3)
    customers = demo_customers()
    for i in range(50):
        scenario = next_scenario(rng, customers, NOW, i, "s")
        if scenario.name == "mail thread" and len(scenario.steps) == 2:
            first, reply = (message_from_bytes(step.raw) for step in scenario.steps if isinstance(step, MailStep))
            assert reply["In-Reply-To"] == first["Message-ID"]
            assert reply["Subject"] == "Re: " + first["Subject"]
            return
    raise AssertionError("no mail thread with a reply in 50 scenarios")


def test_demo_customers_are_synthetic():
    for customer in demo_customers():
        assert customer.emails[0].endswith(("example.org", "example.com"))


def test_the_demo_has_two_records_of_one_person_to_merge():
    first, second = merge_candidate()
    assert first.name == second.name and first.customer_ref != second.customer_ref
    assert not set(first.emails) & set(second.emails) and not set(first.phones) & set(second.phones)
    assert second in demo_customers()


def test_the_demo_has_a_complaint_mail_whose_first_response_is_breached_on_the_office_calendar(tmp_path):
    import tomllib

    from services.demo.config import DemoSecrets, demo_config_toml
    from services.demo.traffic import overdue_complaint
    from services.ingest.imap.parse import parse_message
    from services.projector.complaints.detector import DetectorConfig, detect
    from services.projector.complaints.facts import clock_of
    from services.projector.complaints.policy import build_rules
    from shared.blobs import BlobStore
    from shared.config import FileConfig

    sla = FileConfig.model_validate(tomllib.loads(demo_config_toml(DemoSecrets(smtp_port=8025)))).sla
    rules = build_rules(sla)
    [step] = overdue_complaint(demo_customers()[1], NOW).steps
    assert isinstance(step, MailStep) and step.received_at == datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
    mail = parse_message(step.raw, mailbox="demo", folder="INBOX", uid=None, uidvalidity=None, direction="incoming",
                         received_at=step.received_at, blobs=BlobStore(tmp_path))
    [opened] = detect(mail, [], DetectorConfig(sla=sla, rules=rules))
    facts, state = clock_of([opened], rules, NOW)
    assert (opened.type, state.policy, state.state) == ("complaint.opened", "office-hours", "breached")
    kinds = {segment.kind for segment in state.first_response.segments}
    assert kinds == {"running", "outside_hours"}  # nights and the weekend explain the bar


def test_the_demo_leaves_a_customer_waiting_for_a_callback():
    rng = random.Random(5)
    jonas = demo_customers()[1]
    scenario = waiting_callback(rng, jonas, 1)
    hangups = [step.form for step in scenario.steps if step.form and step.form["event"] == "hangup"]
    assert [(f["from"], f["direction"], f["cause"]) for f in hangups] == [
        (jonas.phones[0].lstrip("+"), "in", "cancel"), (jonas.phones[0].lstrip("+"), "in", "busy")]
    assert len({f["callId"] for f in hangups}) == 2
    waiting = frozenset(jonas.phones)
    callers = {step.form["from"] for i in range(300)
               for step in next_scenario(rng, [jonas], NOW, i, "s", waiting).steps
               if isinstance(step, HttpStep) and step.form and "callId" in step.form}
    assert callers and not callers & {p.lstrip("+") for p in jonas.phones}  # he does not get through by chance
