"""Bytes to text without ever failing, and HTML to readable text."""

from __future__ import annotations

import pytest

from services.ingest.imap.charsets import decode_bytes, repair
from services.ingest.imap.html_text import html_to_text


@pytest.mark.parametrize(
    ("data", "declared", "text", "problem"),
    [
        ("Grüße".encode(), "utf-8", "Grüße", None),
        ("Grüße".encode("latin-1"), "iso-8859-1", "Grüße", None),
        ("„49 €“".encode("cp1252"), "iso-8859-1", "„49 €“", None),  # Latin-1 labels that really are Windows-1252
        ("„49 €“".encode("cp1252"), "us-ascii", "„49 €“", None),
        ("Grüße".encode(), "iso-8859-1", "Grüße", "declared iso-8859-1 but is UTF-8"),
        ("Grüße".encode(), None, "Grüße", None),
        ("Grüße".encode("latin-1"), None, "Grüße", "charset '(none)' unknown or wrong; read as Windows-1252"),
        ("Grüße".encode(), "x-unheard-of", "Grüße", "charset 'x-unheard-of' did not fit; read as UTF-8"),
        ("Grüße".encode("latin-1"), "x-unheard-of", "Grüße", "charset 'x-unheard-of' unknown or wrong; read as Windows-1252"),
        ("Grüße".encode("latin-1"), "utf-8", "Gr\ufffd\ufffde", "bytes invalid in utf-8 were replaced"),
        ("Grüße".encode("latin-1"), "unknown-8bit", "Grüße", "charset 'unknown-8bit' unknown or wrong; read as Windows-1252"),
        (b"plain", "uu", "plain", "charset 'uu' did not fit; read as UTF-8"),
    ],
)
def test_declared_charsets_are_honoured_and_wrong_ones_never_crash(data, declared, text, problem):
    assert decode_bytes(data, declared) == (text, problem)


def test_surrogate_escaped_header_bytes_are_repaired():
    assert repair("K\udcc3\udcb6ln") == "Köln"  # UTF-8 bytes
    assert repair("K\udcf6ln") == "Köln"  # a Latin-1 byte
    assert repair("Köln") == "Köln"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hallo</p><p>Welt</p>", "Hallo\n\nWelt"),
        ("Zeile 1<br>Zeile 2", "Zeile 1\nZeile 2"),
        ("<ul><li>eins</li><li>zwei</li></ul>", "- eins\n- zwei"),
        ("<style>p {color: red}</style><script>alert(1)</script><p>sichtbar</p>", "sichtbar"),
        ('<a href="https://shop.example/t/1">Sendung</a>', "Sendung <https://shop.example/t/1>"),
        ('<a href="https://shop.example/">https://shop.example/</a>', "https://shop.example/"),
        ("<p>A&nbsp;&amp;&nbsp;B</p>", "A & B"),
        ('<img alt="Logo" src="cid:1">Text', "[Logo]Text"),
        ("<div><p>unclosed <b>tags", "unclosed tags"),
    ],
)
def test_html_is_rendered_as_readable_text(html, text):
    assert html_to_text(html) == text
