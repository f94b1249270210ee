"""``python -m ground.console.screenshot PNG``: the console's overview from a real run, for the README.

Flies ``final_approach`` paced (``qz sim --pace 10 --link ...``, authenticated with a fresh key), serves
``qz console`` on it, both as subprocesses, opens the page in headless Chromium (Debian's ``chromium`` driven
by Playwright, as the browser tests do) and writes the overview once the flight has passed mission time
``--at`` (the approach after the 400 m hold), cropped and palette-compressed like ``ground.screenshot``.
``make screenshot`` writes docs/console.png with it. Without Chromium or Playwright: one line, exit 2.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ground.screenshot import FLAGS, _crop_to_content, find_chromium, no_chromium_message, report_shot

START_TIMEOUT_S = 300.0   # [s] a cold numba cache compiles at the flight's start
STOP_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _qz(*args, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ground.cli", *args], stdout=open(log, "w"),  # noqa: SIM115
                            stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _console_url(proc: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = re.search(r"(http://127\.0\.0\.1:\d+/)", log.read_text())
        if found:
            return found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"qz console did not start: {log.read_text()[-500:]}")


def shoot(png: Path, out_dir: Path, pace: float, at_s: float, width: int) -> Path:
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    out_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    link = f"tcp://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="qz-console-shot-") as tmp:
        keys = Path(tmp) / "keys"
        keys.write_text(f"7 {secrets.token_hex(32)}\n")
        os.chmod(keys, 0o600)
        flight = _qz("sim", "--scenario", "final_approach", "--pace", str(pace), "--link", link, "--key-file",
                     str(keys), "--out", str(out_dir / "run"), "--no-report", "--no-progress",
                     log=out_dir / "flight.log")
        console = _qz("console", "--link", link, "--key-file", str(keys), "--http", "127.0.0.1:0",
                      log=out_dir / "console.log")
        try:
            url = _console_url(console, out_dir / "console.log")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=[f for f in FLAGS if f != "--headless"])
                page = browser.new_page(viewport={"width": width, "height": 1000})
                page.goto(url)
                page.wait_for_function(f"window.qz && window.qz.newestT !== null && window.qz.newestT >= {at_s}",
                                       timeout=(START_TIMEOUT_S + 2 * at_s / pace) * 1e3)
                page.wait_for_timeout(1500)  # the approach plot redraws
                raw = Path(tmp) / "raw.png"
                page.screenshot(path=str(raw), full_page=True)
                browser.close()
            png.parent.mkdir(parents=True, exist_ok=True)
            _crop_to_content(raw, png)
        finally:
            _stop(console)
            _stop(flight)
    return png


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ground.console.screenshot", description=__doc__.split("\n\n")[0])
    p.add_argument("png", help="PNG to write")
    p.add_argument("--out", default="runs/screenshot/console", help="folder of the run and the logs")
    p.add_argument("--pace", type=float, default=10.0, help="pace of the flight (default 10)")
    p.add_argument("--at", type=float, default=300.0, help="[s] mission time to wait for (default 300)")
    p.add_argument("--width", type=int, default=1400, help="window width [px]")
    args = p.parse_args(argv)
    if find_chromium() is None:
        print(f"screenshot: {no_chromium_message()}", file=sys.stderr)
        return 2
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        print("screenshot: the playwright package is missing: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    return report_shot(lambda: shoot(Path(args.png), Path(args.out), args.pace, args.at, args.width), RuntimeError)


if __name__ == "__main__":
    sys.exit(main())
