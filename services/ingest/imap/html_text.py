"""A plain-text rendering of HTML mail, for search, summaries and HTML-only messages.

Not a sanitiser: the HTML itself is kept as received and must be sanitised before display."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {
    "p", "div", "section", "article", "header", "footer", "blockquote", "pre", "table", "tr",
    "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "address", "center", "dl", "dt", "dd",
}
_INVISIBLE = {"script", "style", "head", "title", "template", "noscript", "xml"}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0
        self.pre_depth = 0
        self.links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self.hidden_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append("\t")
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if tag in ("p", "blockquote", "table", "h1", "h2", "h3") else "\n")
            self.pre_depth += tag == "pre"
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self.hidden_depth = max(0, self.hidden_depth - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
        elif tag == "a" and self.links:
            href = self.links.pop()
            # show where a link goes unless its text already says it
            if href and href.startswith(("http:", "https:")) and href not in "".join(self.parts[-3:]):
                self.parts.append(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if self.hidden_depth:
            return
        self.parts.append(data if self.pre_depth else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    collector = _TextCollector()
    try:
        collector.feed(html)
        collector.close()
    except (AssertionError, ValueError):  # malformed markup that even html.parser gives up on
        return re.sub(r"<[^>]*>", " ", html).strip()
    text = "".join(collector.parts).replace("\xa0", " ")
    lines = [line.strip(" ") for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
