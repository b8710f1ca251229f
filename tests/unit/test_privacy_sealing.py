"""Personal data on the wire: every `x-pii` field is sealed under the key of its subject and
period, Kafka keys are blind, and once the key is destroyed the fields read back as erased
while everything else of the event stays."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import orjson
import pytest

from events.codec import InvalidEvent, SealedWithoutKeys, decode, encode, record_key, use_protection
from shared.privacy.fields import ERASED
from shared.privacy.master import MasterKey, MasterKeyError, load_or_create_master_key, read_master_key
from shared.privacy.sealing import FieldSealer
from shared.privacy.store import InMemoryKeyStore
from shared.privacy.subjects import contact_subject, customer_subject, period_of, subject_of

EXAMPLES = Path(__file__).resolve().parents[2] / "events" / "examples"
MASTER = MasterKey.from_bytes(bytes(range(32)))


def example(event_type: str):
    path = sorted((EXAMPLES / event_type / "1").glob("*.json"))[0]
    return decode(path.read_bytes())


@pytest.fixture
def keys():
    store = InMemoryKeyStore()
    previous = use_protection(FieldSealer(MASTER, store))
    yield store
    use_protection(previous)


def plaintexts(event) -> list[str]:
    """The personal values of a mail as they must not appear on the wire."""
    payload = event.payload
    return [v for v in (event.contact.email, payload.sender.email, payload.sender.name, payload.subject,
                        payload.text) if v]


def test_a_sealed_mail_holds_none_of_its_personal_values_and_opens_to_the_same_event(keys):
    mail = example("email.received")
    wire = encode(mail)
    for value in plaintexts(mail):
        assert value.encode() not in wire
    assert orjson.loads(wire)["sealed"]["key"] in keys.keys
    assert decode(wire) == mail


def test_fields_that_are_not_personal_data_stay_readable_on_the_wire(keys):
    mail = example("email.received")
    data = orjson.loads(encode(mail))
    assert data["type"] == "email.received"
    assert data["payload"]["message_id"] == mail.payload.message_id
    assert data["occurred_at"] == mail.model_dump(mode="json")["occurred_at"]


def test_the_kafka_key_of_a_contact_is_a_blind_index(keys):
    form = example("webform.submitted")
    key = record_key(form).decode()
    assert form.contact.email not in key
    assert key == f"email#{MASTER.blind_index('email', form.contact.email)}"


def test_after_the_key_is_destroyed_personal_fields_read_as_erased_and_the_rest_stays(keys):
    mail = example("email.received")
    wire = encode(mail)
    keys.destroy([subject_of(MASTER, mail)])
    erased = decode(wire)
    assert erased.contact.email is None
    assert erased.payload.sender.email == ERASED and erased.payload.sender.name is None
    assert erased.payload.subject == ERASED and erased.payload.text is None
    assert (erased.event_id, erased.occurred_at, erased.channel) == (mail.event_id, mail.occurred_at, mail.channel)


def test_a_form_erased_keeps_its_type_and_loses_its_fields(keys):
    form = example("webform.submitted")
    wire = encode(form)
    keys.destroy([subject_of(MASTER, form)])
    erased = decode(wire)
    assert erased.payload.message is None and erased.payload.fields == {}
    assert erased.payload.form_id == form.payload.form_id


def test_a_contact_is_keyed_by_its_address_and_a_customer_record_by_its_reference():
    form, customer = example("webform.submitted"), example("customer.registered")
    assert subject_of(MASTER, form) == contact_subject(MASTER, "email", form.contact.email)
    assert subject_of(MASTER, customer) == customer_subject(MASTER, customer.payload.customer_ref)


def test_keys_are_per_subject_and_year_so_one_year_can_be_shredded_alone(keys):
    mail = example("email.received")
    next_year = mail.model_copy(update={"occurred_at": mail.occurred_at.replace(year=mail.occurred_at.year + 1)})
    old, new = encode(mail), encode(next_year)
    assert orjson.loads(old)["sealed"] != orjson.loads(new)["sealed"]
    doomed = [key_id for key_id, (_, period, _) in keys.keys.items() if period == period_of(mail)]
    for key_id in doomed:
        del keys.keys[key_id]
    assert decode(old).payload.subject == ERASED
    assert decode(new).payload.subject == next_year.payload.subject


def test_a_sealed_value_moved_to_another_field_does_not_open(keys):
    data = orjson.loads(encode(example("email.received")))
    data["payload"]["subject"] = data["payload"]["sender"]["email"]
    with pytest.raises(InvalidEvent, match="payload.subject: does not open"):
        decode(orjson.dumps(data))


def test_a_sealed_event_read_without_a_key_store_is_a_configuration_error_not_bad_input(keys):
    wire = encode(example("email.received"))
    use_protection(None)
    with pytest.raises(SealedWithoutKeys):
        decode(wire)


def test_events_written_before_sealing_still_decode_with_it_on(keys):
    mail = example("email.received")
    plain = orjson.dumps(mail.model_dump(mode="json"))
    assert decode(plain) == mail


def test_every_example_event_survives_sealing(keys):
    for folder in sorted(EXAMPLES.iterdir()):
        event = example(folder.name)
        assert decode(encode(event)) == event, folder.name


def test_a_development_master_key_is_made_once_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "privacy" / "master.key"
    first = load_or_create_master_key(path, create=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_master_key(path, create=True) == first


def test_a_missing_or_malformed_master_key_names_the_file(tmp_path):
    with pytest.raises(MasterKeyError, match="cannot read"):
        load_or_create_master_key(tmp_path / "absent.key", create=False)
    short = tmp_path / "short.key"
    short.write_text(base64.b64encode(b"x" * 16).decode())
    with pytest.raises(MasterKeyError, match="32 bytes"):
        read_master_key(short)


def test_a_sealed_blob_is_noise_on_disk_and_opens_only_with_the_key_in_its_event(tmp_path, keys):
    from shared.blobs import BlobNotFound
    from shared.privacy.blobs import SealedBlobStore, open_blob

    store = SealedBlobStore(tmp_path)
    secret = b"Kontoauszug of Erika Muster, IBAN DE02120300000000202051"
    blob = store.put(secret, "application/pdf", "kontoauszug.pdf")
    on_disk = store.path_of(blob.sha256).read_bytes()
    assert b"Erika" not in on_disk and b"IBAN" not in on_disk
    assert store.read_open(blob.sha256, blob.key) == secret
    with pytest.raises(BlobNotFound):
        open_blob(on_disk, None)
    mail = example("email.received")
    with_blob = mail.model_copy(update={"payload": mail.payload.model_copy(update={"attachments": (blob,)})})
    wire = encode(with_blob)
    assert blob.key.encode() not in wire
    assert decode(wire).payload.attachments[0].key == blob.key
    keys.destroy([subject_of(MASTER, mail)])
    assert decode(wire).payload.attachments[0].key is None
