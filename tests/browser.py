"""Headless Chromium for the tests, driven over the DevTools protocol on a pipe (no extra package).

:func:`network_requests` opens pages and lists every request each one made that did not
stay on the machine (anything but ``file:``, ``data:``, ``blob:`` and ``about:``). Only
the page's own requests count: the browser's background traffic is not the page's.
:func:`overflows` opens pages at given window widths and lists what sticks out sideways.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from seglib.rendering import find_chromium

CHROMIUM = find_chromium()
LOCAL = ("file:", "data:", "blob:", "about:")


class DevTools:
    """One headless browser; ``call`` sends a command and waits for its answer, keeping the events seen."""

    def __init__(self, browser: str, profile: Path):
        to_browser, from_browser = os.pipe(), os.pipe()

        def pipes_as_3_and_4():  # the protocol pipe: the browser reads commands on fd 3, answers on fd 4
            read, write = os.dup(to_browser[0]), os.dup(from_browser[1])
            os.dup2(read, 3)
            os.dup2(write, 4)

        command = [browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                   "--disable-extensions", f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # Chromium will not start as root with its sandbox
            command.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(command, preexec_fn=pipes_as_3_and_4, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser[0])
        os.close(from_browser[1])
        self.write, self.read = to_browser[1], from_browser[0]
        self.buffer, self.count, self.events = b"", 0, []

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60):
        self.count += 1
        message = {"id": self.count, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._next(timeout)
            if answer.get("id") == self.count:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, event: str, session: str, timeout: float = 60) -> dict:
        for seen in self.events:
            if seen.get("method") == event and seen.get("sessionId") == session:
                return seen
        while True:
            seen = self._next(timeout)
            self.events.append(seen)
            if seen.get("method") == event and seen.get("sessionId") == session:
                return seen

    def _next(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.read], [], [], left)[0]:
                raise TimeoutError("the browser did not answer")
            chunk = os.read(self.read, 1 << 20)
            if not chunk:
                raise EOFError("the browser closed the pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (OSError, TimeoutError, EOFError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self.write)
        os.close(self.read)


@contextmanager
def _browser():
    """One headless browser with a throwaway profile, closed afterwards."""
    profile = Path(tempfile.mkdtemp(prefix="seglib-chromium-"))
    tools = DevTools(CHROMIUM, profile)
    try:
        yield tools
    finally:
        tools.close()
        shutil.rmtree(profile, ignore_errors=True)


def _open(tools: DevTools, page: Path, *domains: str, width: int | None = None) -> tuple[str, str]:
    """A new tab showing ``page`` (loaded), optionally in a window ``width`` CSS pixels wide; (target, session)."""
    target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", *domains):
        tools.call(f"{domain}.enable", session=session)
    if width:  # a phone's width is a phone: the page's viewport meta tag applies
        tools.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                           "mobile": width < 600}, session=session)
    tools.call("Page.navigate", {"url": Path(page).resolve().as_uri()}, session=session)
    tools.wait_for("Page.loadEventFired", session)
    return target, session


def network_requests(pages: list[Path], settle: float = 1.0) -> dict[str, list[str]]:
    """Each page's requests that left the machine (empty lists: the pages read offline)."""
    found = {}
    with _browser() as tools:
        for page in pages:
            target, session = _open(tools, page, "Network")
            time.sleep(settle)  # scripts that fetch after the load event (module imports) have their chance
            tools.call("Runtime.evaluate", {"expression": "document.readyState"}, session=session)
            found[str(page)] = [e["params"]["request"]["url"] for e in tools.events
                                if e.get("sessionId") == session and e.get("method") == "Network.requestWillBeSent"
                                and not e["params"]["request"]["url"].startswith(LOCAL)]
            tools.call("Target.closeTarget", {"targetId": target})
    return found


#: What sticks out sideways, measured in the page: its own width against the window's, and every chart, table,
#: table wrapper, card, summary and rule whose content is wider than its box or whose right edge passes its
#: container's or the main column's. A table inside a ``.table-wrap`` may be wider than the page: it scrolls in
#: its wrapper, which is measured instead (and may scroll, but not stick out).
_OVERFLOW_SCRIPT = """
(() => {
  const main = document.querySelector('main') || document.body;
  const style = getComputedStyle(main);
  const column = main.getBoundingClientRect().right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  const name = el => el.tagName.toLowerCase() + [...el.classList].map(c => '.' + c).join('')
    + ' "' + (el.getAttribute('alt') || el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50) + '"';
  const found = [];
  for (const el of document.querySelectorAll('img, table, .table-wrap, .card, .summary, .rule')) {
    if (el.tagName === 'TABLE' && el.closest('.table-wrap')) continue;
    const right = el.getBoundingClientRect().right;
    const container = el.parentElement.getBoundingClientRect().right;
    if (!el.classList.contains('table-wrap') && el.scrollWidth > el.clientWidth + 1)
      found.push(`${name(el)}: content ${el.scrollWidth} px wide in a box of ${el.clientWidth} px`);
    if (right > Math.min(container, column) + 1)
      found.push(`${name(el)}: right edge at ${Math.round(right)} px, past its container (${Math.round(container)} px) `
                 + `or the main column (${Math.round(column)} px)`);
  }
  return JSON.stringify({page: document.documentElement.scrollWidth, window: window.innerWidth, elements: found});
})()
"""


def overflows(pages: list[Path], widths: tuple[int, ...] = (1280, 390)) -> dict[tuple[str, int], dict]:
    """Each page at each window width: ``page`` (its scroll width), ``window`` (the window's inner width) and
    ``elements``, what sticks out (see :data:`_OVERFLOW_SCRIPT`; an empty list: nothing does)."""
    found = {}
    with _browser() as tools:
        for page in pages:
            for width in widths:
                target, session = _open(tools, page, width=width)
                answer = tools.call("Runtime.evaluate", {"expression": _OVERFLOW_SCRIPT, "returnByValue": True},
                                    session=session)
                found[(str(page), width)] = json.loads(answer["result"]["value"])
                tools.call("Target.closeTarget", {"targetId": target})
    return found
