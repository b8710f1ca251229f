"""Mail HTML made safe to show: nh3 (a maintained sanitizer) keeps a small set of formatting
tags, drops scripts, styles, event handlers and every URL scheme but http(s) and mailto, adds
rel="noopener noreferrer" to links, and by default removes remote image sources (the agent
can load them explicitly). The result is shown in a sandboxed frame under its own strict
Content-Security-Policy, so even a sanitizer miss cannot run script or fetch anything."""

from __future__ import annotations

import html as html_escape

import nh3

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt", "em", "font", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
    "table": {"summary"},
    "*": {"dir", "lang"},
}
DROP_WITH_CONTENT = {"script", "style", "title", "head", "iframe", "object", "embed", "template", "noscript", "svg", "math"}
SCHEMES = {"http", "https", "mailto"}

BLOCKED_IMAGES_CSP = "default-src 'none'; img-src data:; style-src 'self'; form-action 'none'; base-uri 'none'; sandbox"
LOADED_IMAGES_CSP = "default-src 'none'; img-src https: http: data:; style-src 'self'; form-action 'none'; base-uri 'none'; sandbox"


def sanitise_mail_html(raw: str, load_images: bool = False) -> tuple[str, int]:
    """The cleaned HTML and how many remote images were blocked."""
    blocked = 0

    def keep(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if tag == "img" and attribute == "src":
            remote = value.strip().lower().startswith(("http:", "https:", "//"))
            if remote and not load_images:
                blocked += 1
                return None
            return value if remote else None  # cid: and data: parts are not served here
        return value

    cleaned = nh3.clean(raw, tags=TAGS, attributes=ATTRIBUTES, clean_content_tags=DROP_WITH_CONTENT,
                        url_schemes=SCHEMES, link_rel="noopener noreferrer", attribute_filter=keep,
                        strip_comments=True)
    return cleaned, blocked


def mail_document(cleaned: str, stylesheet: str, language: str) -> str:
    """A whole HTML document for the sandboxed frame; links open in a new tab."""
    return (
        f'<!doctype html><html lang="{html_escape.escape(language)}"><head><meta charset="utf-8">'
        f'<base target="_blank"><link rel="stylesheet" href="{html_escape.escape(stylesheet)}"></head>'
        f'<body class="mail-body">{cleaned}</body></html>'
    )
