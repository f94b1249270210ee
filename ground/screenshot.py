"""Screenshots of the ground's web pages (run reports, campaign index) through headless Chromium.

``python -m ground.screenshot PAGE PNG`` renders PAGE (a file or an http(s) URL) at a fixed width and
writes the whole page, cropped below its last content, to PNG (``make screenshot`` writes docs/report.png).
``python -m ground.screenshot --check`` only says whether a Chromium is there.

Chromium is looked for as ``$CHROMIUM``, then ``chromium``, ``chromium-browser``, ``google-chrome`` on the
PATH (Debian: ``apt-get install chromium``). Each call starts it with a fresh profile, no sandbox (it may run
as root in CI), no GPU and no background network traffic.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH_PX = 1280
MAX_HEIGHT_PX = 16384  # a taller window is not rendered whole by Chromium's software compositor
TIMEOUT_S = 120.0
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1")


class ScreenshotError(Exception):
    """No Chromium, a page that does not exist, or Chromium wrote no image; the message says which."""


def find_chromium() -> str | None:
    """Path of the Chromium to use, or None."""
    env = os.environ.get("CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def _url(page: str) -> str:
    if page.startswith(("http://", "https://", "file://")):
        return page
    path = Path(page)
    if not path.is_file():
        raise ScreenshotError(f"{page}: no such page")
    return path.resolve().as_uri()


def screenshot(page: str, png: str | Path, *, width: int = WIDTH_PX, height: int = MAX_HEIGHT_PX) -> Path:
    """Render ``page`` in a ``width`` x ``height`` window and write it to ``png``, cropped below the content.

    Raises
    ------
    ScreenshotError
        when no Chromium is found, the page file is missing, or Chromium wrote no image
    """
    chromium = find_chromium()
    if chromium is None:
        raise ScreenshotError(no_chromium_message())
    url = _url(page)
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qz-chromium-") as profile:
        raw = Path(profile) / "shot.png"
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
               f"--screenshot={raw}", url]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ScreenshotError(f"{chromium} did not finish within {TIMEOUT_S:g} s on {url}") from None
        if not raw.is_file():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ScreenshotError(f"{chromium} wrote no screenshot of {url} (exit {proc.returncode}: {tail})")
        _crop_to_content(raw, png)
    return png


def _crop_to_content(src: Path, dst: Path, margin_px: int = 16) -> None:
    """Drop the rows below the page's last content (the window is taller than most pages) and save ``dst``
    with an adaptive palette (a report's plots use few colours: a third of the RGB size)."""
    import numpy as np
    from PIL import Image

    img = Image.open(src).convert("RGB")
    px = np.asarray(img)
    background = px[-1, -1]
    rows = np.flatnonzero(np.any(px != background, axis=(1, 2)))
    bottom = min(int(rows[-1]) + 1 + margin_px, px.shape[0]) if len(rows) else px.shape[0]
    img.crop((0, 0, px.shape[1], bottom)).quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        dst, optimize=True)


def no_chromium_message() -> str:
    env = os.environ.get("CHROMIUM")
    if env:
        return f"CHROMIUM={env}: no such program"
    return ("no Chromium found (looked for " + ", ".join(CANDIDATES)
            + "): install Debian's chromium (apt-get install chromium) or set CHROMIUM=/path/to/chrome")


def report_shot(take: Callable[[], Path], errors: type[Exception]) -> int:
    """Exit code of a screenshot command: ``wrote PATH`` and 0, or ``screenshot: why`` on stderr and 2."""
    try:
        path = take()
    except errors as err:
        print(f"screenshot: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ground.screenshot", description=__doc__.split("\n\n")[0])
    p.add_argument("page", nargs="?", help="HTML file or http(s) URL")
    p.add_argument("png", nargs="?", help="PNG to write")
    p.add_argument("--width", type=int, default=WIDTH_PX, help=f"window width [px] (default {WIDTH_PX})")
    p.add_argument("--height", type=int, default=MAX_HEIGHT_PX,
                   help=f"window height [px]; the image is cropped below the content (default {MAX_HEIGHT_PX})")
    p.add_argument("--check", action="store_true", help="only check that a Chromium is there")
    args = p.parse_args(argv)
    if args.check:
        if find_chromium() is None:
            print(f"screenshot: {no_chromium_message()}", file=sys.stderr)
            return 2
        return 0
    if not args.page or not args.png:
        p.error("PAGE and PNG are required (or --check)")
    return report_shot(lambda: screenshot(args.page, args.png, width=args.width, height=args.height),
                       ScreenshotError)


if __name__ == "__main__":
    sys.exit(main())
