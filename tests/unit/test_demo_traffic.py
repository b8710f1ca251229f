import hashlib
import hmac
import json
import random
from datetime import UTC, datetime
from email import message_from_bytes

from services.demo.data import demo_customers
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
