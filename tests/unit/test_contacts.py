from shared.contacts import normalise_email, normalise_phone


def test_email_addresses_are_lower_cased_without_display_name():
    assert normalise_email("Erika Muster <Erika.Muster@Example.ORG>") == "erika.muster@example.org"
    assert normalise_email("  support@shop.example ") == "support@shop.example"


def test_things_that_are_not_addresses_are_none():
    assert normalise_email("not an address") is None
    assert normalise_email("") is None
    assert normalise_email(None) is None


def test_an_address_longer_than_smtp_allows_is_none():
    assert normalise_email("a" * 308 + "@example.org") == "a" * 308 + "@example.org"  # 320 characters
    assert normalise_email("a" * 400 + "@example.org") is None


def test_phone_numbers_in_every_usual_spelling_become_e164():
    assert normalise_phone("+49 30 1234-5678") == "+493012345678"
    assert normalise_phone("0049 30 12345678") == "+493012345678"
    assert normalise_phone("030/12345678", default_region="DE") == "+493012345678"
    assert normalise_phone("(0)30 12345678", default_region="DE") == "+493012345678"
    assert normalise_phone("4915112345678") == "+4915112345678"


def test_the_default_region_is_not_hard_coded():
    assert normalise_phone("020 7946 0958", default_region="GB") == "+442079460958"
    assert normalise_phone("030 12345678") is None


def test_withheld_numbers_are_none():
    assert normalise_phone("anonymous") is None
    assert normalise_phone("") is None
    assert normalise_phone(None) is None


def test_international_digits_without_plus_are_not_read_as_national():
    assert normalise_phone("4915112345678", default_region="DE") == "+4915112345678"
    assert normalise_phone("442079460958", default_region="DE") == "+442079460958"
