"""Text a client's data could hold that would run, break out of an attribute or be evaluated as a template if it
reached a page as markup, and the check that it stayed inert text."""

from __future__ import annotations

from html.parser import HTMLParser

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
TEMPLATE = "{{7*7}}"
#: All three in one text.
HOSTILE = f"{SCRIPT} {BREAKOUT} {TEMPLATE}"


class _Elements(HTMLParser):
    """Every element's tag and attributes, and the text inside <script> elements."""

    def __init__(self):
        super().__init__()
        self.tags, self.scripts = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if self.tags and self.tags[-1][0] == "script":
            self.scripts.append(data)


def assert_inert(page: str, where: str) -> None:
    """No element the client's text could have made: no handler attribute, no script, no image but inline charts."""
    parsed = _Elements()
    parsed.feed(page)
    handlers = [(tag, a) for tag, attrs in parsed.tags for a in attrs if a.lower().startswith("on")]
    assert not handlers, (where, handlers[:3])
    assert "<script" not in page.lower() and not parsed.scripts, where
    assert not [a for tag, a in parsed.tags if tag == "img" and not (a.get("src") or "").startswith("data:")], where
