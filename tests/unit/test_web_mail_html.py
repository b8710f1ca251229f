"""Mail HTML as the agent UI shows it: only formatting survives the sanitizer."""

from __future__ import annotations

from services.projector.web.mailhtml import BLOCKED_IMAGES_CSP, LOADED_IMAGES_CSP, mail_document, sanitise_mail_html


def clean(html: str, load_images: bool = False) -> str:
    return sanitise_mail_html(html, load_images)[0]


def test_scripts_and_their_content_are_removed():
    assert clean("<p>hi</p><script>alert(1)</script>") == "<p>hi</p>"
    assert "alert" not in clean("<svg><script>alert(1)</script></svg><math><mi>x</mi></math>")


def test_event_handlers_are_removed():
    cleaned = clean('<p onclick="alert(1)">x</p><img src="cid:1" onerror="alert(2)"><body onload="alert(3)">')
    assert "alert" not in cleaned and "on" not in cleaned.replace("<p>", "")


def test_javascript_and_data_urls_lose_their_href_and_links_open_without_an_opener():
    cleaned = clean('<a href="javascript:alert(1)">a</a><a href="data:text/html,x">b</a><a href="https://shop.example/">c</a>')
    assert "javascript" not in cleaned and "data:" not in cleaned
    assert '<a href="https://shop.example/" rel="noopener noreferrer">c</a>' in cleaned


def test_css_never_survives_so_expressions_cannot_run():
    cleaned = clean('<style>p{x:expression(alert(1))}</style><div style="width:expression(alert(2))">x</div>')
    assert cleaned == "<div>x</div>"


def test_frames_forms_objects_and_meta_refresh_are_removed():
    cleaned = clean('<iframe src="https://a.example"></iframe><form action="https://a.example"><input></form>'
                    '<object data="x"></object><meta http-equiv="refresh" content="0;url=https://a.example"><base href="https://a.example">')
    assert cleaned == ""


def test_remote_images_are_blocked_until_the_agent_loads_them():
    html = '<img src="https://tracker.example/p.gif" alt="pixel"><img src="http://tracker.example/q.gif">'
    blocked, count = sanitise_mail_html(html)
    assert count == 2 and "tracker" not in blocked and 'alt="pixel"' in blocked
    loaded, count = sanitise_mail_html(html, load_images=True)
    assert count == 0 and 'src="https://tracker.example/p.gif"' in loaded


def test_the_mail_frame_may_never_run_script_and_fetches_images_only_when_asked():
    for policy in (BLOCKED_IMAGES_CSP, LOADED_IMAGES_CSP):
        assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert "https:" not in BLOCKED_IMAGES_CSP and "img-src https:" in LOADED_IMAGES_CSP
    document = mail_document("<p>x</p>", "/static/mail.css", 'de"><script>')
    assert "<script>" not in document and '<body class="mail-body"><p>x</p></body>' in document
