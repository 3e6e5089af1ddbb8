"""Headless Chromium driven over the DevTools protocol: a real browser, no extra package.

Chromium writes the port it chose to DevToolsActivePort in its profile directory; the page
target's WebSocket is then spoken to with tornado's client. Every host but 127.0.0.1 is
made unresolvable, so a page can reach nothing but the server under test (Telegram's own
script, loaded from telegram.org, fails at once and the page carries on without it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from tornado.websocket import WebSocketClientConnection, websocket_connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The system's Chromium, or None (the browser tests then skip, saying so)."""
    for name in CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


class BrowserError(RuntimeError):
    """The browser answered a command with an error, or a wait ran out."""


class Page:
    """One tab: navigate, run JavaScript, press, drag, and take a screenshot."""

    def __init__(self, socket: WebSocketClientConnection) -> None:
        self.socket = socket
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        await self.socket.write_message(
            json.dumps({"id": call_id, "method": method, "params": params})
        )
        while True:
            raw = await asyncio.wait_for(self.socket.read_message(), timeout=30)
            if raw is None:
                raise BrowserError("the browser closed the connection")
            message = json.loads(raw)
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if it is a promise)."""
        answer = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 15.0) -> Any:  # noqa: ASYNC109
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"still false after {timeout} s: {expression}")
            await asyncio.sleep(0.1)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'")

    async def center_of(self, selector: str) -> tuple[float, float]:
        box = await self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if not box:
            raise BrowserError(f"nothing matches {selector}")
        return float(box[0]), float(box[1])

    async def drag(self, source: str, target: str, *, above: bool = True, steps: int = 8) -> None:
        """Press on `source`, move in small steps to the top (or bottom) part of `target`,
        release: the mouse events a finger's drag becomes, as real input events."""
        x, y = await self.center_of(source)
        tx, ty = await self.center_of(target)
        ty += -10 if above else 10
        mouse = "Input.dispatchMouseEvent"
        await self.send(mouse, type="mouseMoved", x=x, y=y)
        await self.send(
            mouse, type="mousePressed", x=x, y=y, button="left", buttons=1, clickCount=1
        )
        for step in range(1, steps + 1):
            px = x + (tx - x) * step / steps
            py = y + (ty - y) * step / steps
            await self.send(mouse, type="mouseMoved", x=px, y=py, button="left", buttons=1)
        await self.send(
            mouse, type="mouseReleased", x=tx, y=ty, button="left", buttons=0, clickCount=1
        )

    async def screenshot(self, path: Path) -> Path:
        shot = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path


@contextlib.asynccontextmanager
async def chromium(
    profile: Path, *, width: int = 390, height: int = 844, init_script: str = ""
) -> AsyncIterator[Page]:
    """A headless Chromium at phone size with one page; `init_script` runs in every
    document before the page's own scripts."""
    executable = chromium_path()
    if executable is None:
        raise BrowserError("no chromium on this machine")
    await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
    args = [
        executable,
        "--headless=new",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--mute-audio",
        "about:blank",
    ]
    if os.geteuid() == 0:  # Chromium refuses to run its sandbox as root (containers, CI)
        args.insert(1, "--no-sandbox")
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        port = await _devtools_port(profile / "DevToolsActivePort", process)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            targets = (await client.get("/json/list")).json()
        target = next(t for t in targets if t.get("type") == "page")
        socket = await websocket_connect(target["webSocketDebuggerUrl"], max_message_size=64 << 20)
        page = Page(socket)
        try:
            await page.send("Page.enable")
            await page.send("Runtime.enable")
            await page.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=2,
                mobile=True,
            )
            if init_script:
                await page.send("Page.addScriptToEvaluateOnNewDocument", source=init_script)
            yield page
        finally:
            socket.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _devtools_port(path: Path, process: asyncio.subprocess.Process) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise BrowserError(f"chromium exited with {process.returncode}")
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((await asyncio.to_thread(path.read_text)).splitlines()[0])
        await asyncio.sleep(0.1)
    raise BrowserError("chromium did not open its DevTools port")
