"""The web console's end-to-end latency and plot rate (issue 14), in a real browser (headless Debian Chromium).

Latency, at ``--pace 1``: from a packet's mission time to its value on the page. The page notes, for every
packet it renders, the packet's mission time, when the console received it and when the render that put it
on the page ran (``window.qz.latency``). The flight's epoch (the wall time of mission time 0) is not on the
link; it is the lower envelope of ``arrival - mission time`` of the GROUND_LINK packets at a raw link client
of this test (the link app stamps and sends them in the same frame, so the envelope is the epoch plus well
under a millisecond of loopback). The browser's clock is set against this process's around one call. So the
latency includes the flight's own wait (housekeeping packets go out at the link's next 10 Hz service, up to
50 ms later), the console and the browser. Target: p99 < 250 ms.

Plots, at ``--pace 10``: four live plots on the page; their redraws per plot per second (>= 2), and whether the
page keeps up with ~100 packets a second while it draws them: the delay from the console to the page stays
under the latency target and nothing is dropped on the way to the browser.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from console_live import ConsoleProcess, Flight, key_file, launch, need_browser

from ground.link import LinkClient
from telemetry.codec import decode_tm, peek_apid
from telemetry.dictionary import TM_BY_NAME

LATENCY_S = float(os.environ.get("QZ_CONSOLE_BENCH_S", "40"))   # [s] wall time measured at --pace 1
PLOTS_S = float(os.environ.get("QZ_CONSOLE_PLOT_BENCH_S", "20"))  # [s] wall time measured at --pace 10
WARMUP_S = 5.0
P99_TARGET_MS = 250.0
PLOT_RATE_TARGET = 2.0   # [1/s] redraws of each plot
GROUND_LINK = TM_BY_NAME["GROUND_LINK"].apid


class RawListener(threading.Thread):
    """A link client that notes ``arrival - mission time`` of GROUND_LINK packets and the newest mission time."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.client = LinkClient(url)
        self.offsets: list[float] = []
        self.newest_t = None
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            packets = self.client.receive(0.05)
            now = time.time()
            if packets is None:
                return
            for p in packets:
                _, _, t_ns, _ = decode_tm(p)
                self.newest_t = t_ns / 1e9 if self.newest_t is None else max(self.newest_t, t_ns / 1e9)
                if peek_apid(p) == GROUND_LINK:
                    self.offsets.append(now - t_ns / 1e9)

    def close(self):
        self.halt.set()
        self.join(2.0)
        self.client.close()


def _browser_offset_s(page) -> float:
    """[s] browser clock minus this process's clock, read around one call."""
    before = time.time()
    shown = page.evaluate("performance.timeOrigin + performance.now()") / 1e3
    after = time.time()
    return shown - 0.5 * (before + after)


def _live(tmp_path, pace):
    keys = key_file(tmp_path)
    flight = Flight(tmp_path, keys, pace).start()
    return keys, flight


# need_browser() is called by each test before benchmark.pedantic, not inside the measured function: a skip raised
# inside it leaves pytest-benchmark a benchmark without rounds and no error, which its --benchmark-autosave cannot
# write (make bench then ended in a traceback on every machine without Chromium).
def _measure_latency(tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    keys, flight = _live(tmp_path, 1)
    console = listener = pw = None
    try:
        listener = RawListener(flight.url)
        listener.start()
        console = ConsoleProcess(tmp_path, flight.url, keys)
        pw = sync_playwright().start()
        browser = launch(pw, chromium)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(console.url)
        page.wait_for_function("window.qz && window.qz.latency.length > 0", timeout=120_000)
        time.sleep(LATENCY_S)
        samples = page.evaluate("window.qz.latency")
        offset = _browser_offset_s(page)
        browser.close()
    finally:
        if pw is not None:
            pw.stop()
        if console is not None:
            console.close()
        if listener is not None:
            listener.close()
        flight.close()
    epoch = min(listener.offsets)
    t = np.array([s[1] for s in samples])
    rx = np.array([s[2] for s in samples]) / 1e3
    shown = np.array([s[3] for s in samples]) / 1e3 - offset
    keep = t > t.min() + WARMUP_S
    total = (shown - epoch - t)[keep] * 1e3
    to_console = (rx - epoch - t)[keep] * 1e3
    return {"samples": int(keep.sum()), "ground_link_packets": len(listener.offsets),
            "median_ms": float(np.median(total)), "p99_ms": float(np.percentile(total, 99)),
            "max_ms": float(total.max()), "to_console_median_ms": float(np.median(to_console)),
            "to_console_p99_ms": float(np.percentile(to_console, 99)),
            "console_to_page_median_ms": float(np.median(total - to_console)),
            "console_to_page_p99_ms": float(np.percentile(total - to_console, 99))}


def test_bench_console_latency_mission_time_to_page_at_pace_1(benchmark, tmp_path):
    r = benchmark.pedantic(_measure_latency, args=(tmp_path, need_browser()), rounds=1, iterations=1)
    benchmark.extra_info.update(r, duration_s=LATENCY_S, pace=1)
    print(f"\nconsole latency at --pace 1, {r['samples']} values over {LATENCY_S:g} s: median {r['median_ms']:.1f} ms, "
          f"p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms (flight to console: median "
          f"{r['to_console_median_ms']:.1f}, p99 {r['to_console_p99_ms']:.1f} ms; console to page: median "
          f"{r['console_to_page_median_ms']:.1f}, p99 {r['console_to_page_p99_ms']:.1f} ms)")
    assert r["samples"] > 100 and r["ground_link_packets"] > 10
    assert r["p99_ms"] < P99_TARGET_MS


def _measure_plots(tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    keys, flight = _live(tmp_path, 10)
    console = pw = None
    try:
        console = ConsoleProcess(tmp_path, flight.url, keys)
        pw = sync_playwright().start()
        browser = launch(pw, chromium)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(console.url + "#plots")
        page.wait_for_selector(".plot-card .main-svg", timeout=120_000)
        options = page.eval_on_selector_all("#plot-channel option", "os => os.map(o => o.textContent)")
        for label in ("DOCKING_MONITOR.range_rate_mps", "NAV_STATE.r_LVLH_m[1]", "ATT_STATE.att_err_rad[0]"):
            page.select_option("#plot-channel", label=next(o for o in options if o.startswith(label)))
            page.click("#plot-add")
        page.wait_for_function("window.qz.plots.length === 4")
        time.sleep(2.0)
        draws0, since_ms = page.evaluate("[window.qz.stats.plotDraws, performance.timeOrigin + performance.now()]")
        t0 = time.monotonic()
        time.sleep(PLOTS_S)
        draws, samples, status = page.evaluate("""async () => [window.qz.stats.plotDraws, window.qz.latency,
            await (await fetch('/api/status')).json()]""")
        elapsed = time.monotonic() - t0
        browser.close()
    finally:
        if pw is not None:
            pw.stop()
        if console is not None:
            console.close()
        flight.close()
    to_page = np.array([s[3] - s[2] for s in samples if s[3] >= since_ms])
    return {"plots": 4, "redraws_per_plot_per_s": (draws - draws0) / 4 / elapsed, "packets_shown": len(to_page),
            "packets_per_s": len(to_page) / elapsed, "console_to_page_median_ms": float(np.median(to_page)),
            "console_to_page_p99_ms": float(np.percentile(to_page, 99)),
            "dropped_to_browser": status["dropped_to_browsers"]}


def test_bench_console_plots_keep_up_with_pace_10(benchmark, tmp_path):
    r = benchmark.pedantic(_measure_plots, args=(tmp_path, need_browser()), rounds=1, iterations=1)
    benchmark.extra_info.update(r, duration_s=PLOTS_S, pace=10)
    print(f"\nconsole plots at --pace 10: {r['redraws_per_plot_per_s']:.2f} redraws per plot per second (4 plots); "
          f"{r['packets_per_s']:.0f} packets/s shown {r['console_to_page_median_ms']:.1f} ms (median), "
          f"{r['console_to_page_p99_ms']:.1f} ms (p99) after the console got them; "
          f"{r['dropped_to_browser']} dropped on the way to the browser")
    assert r["redraws_per_plot_per_s"] >= PLOT_RATE_TARGET
    assert r["packets_shown"] > 50 * PLOTS_S  # ~10 packets a mission second, 10 mission seconds a second
    assert r["console_to_page_p99_ms"] < P99_TARGET_MS and r["dropped_to_browser"] == 0  # the page keeps up


pytestmark = pytest.mark.timeout(900)
