"""Headless Chromium for the tests, driven over the DevTools protocol on a pipe (no extra package).

:func:`network_requests` opens pages and lists every request each one made that did not
stay on the machine (anything but ``file:``, ``data:``, ``blob:`` and ``about:``). Only
the page's own requests count: the browser's background traffic is not the page's.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
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


def network_requests(pages: list[Path], settle: float = 1.0) -> dict[str, list[str]]:
    """Each page's requests that left the machine (empty lists: the pages read offline)."""
    profile = Path(tempfile.mkdtemp(prefix="seglib-chromium-"))
    tools = DevTools(CHROMIUM, profile)
    found = {}
    try:
        for page in pages:
            target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            tools.call("Network.enable", session=session)
            tools.call("Page.enable", session=session)
            tools.call("Page.navigate", {"url": Path(page).resolve().as_uri()}, session=session)
            tools.wait_for("Page.loadEventFired", session)
            time.sleep(settle)  # scripts that fetch after the load event (module imports) have their chance
            tools.call("Runtime.evaluate", {"expression": "document.readyState"}, session=session)
            found[str(page)] = [e["params"]["request"]["url"] for e in tools.events
                                if e.get("sessionId") == session and e.get("method") == "Network.requestWillBeSent"
                                and not e["params"]["request"]["url"].startswith(LOCAL)]
            tools.call("Target.closeTarget", {"targetId": target})
    finally:
        tools.close()
        shutil.rmtree(profile, ignore_errors=True)
    return found
