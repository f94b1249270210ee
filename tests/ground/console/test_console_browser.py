"""The console in a real browser: headless Debian Chromium driven by Playwright, against
``qz sim --scenario final_approach --pace 20 --link ...`` and ``qz console`` as subprocesses.

``QZ_CONSOLE_TEST_PACE`` sets another pace: at --pace 20 a minor frame is 0.5 ms of wall time, and on a
crowded 2-core machine the flight then skips frames and its FDIR misjudges the thrusters (SAFE), which the
console shows faithfully but the approach tests need a nominal approach.

The tests run in file order on one flight and one console (the last one kills the flight and starts it
again). Every wait has a timeout; the processes are stopped in the fixture's ``finally``. Without Chromium
they skip with one line saying how to install it (``QZ_REQUIRE_BROWSER=1``, as CI sets it: they fail).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pytest
from console_live import ConsoleProcess, Flight, key_file, launch, need_browser

from ground.console.config import load_flight_config
from telemetry.dictionary import TM_BY_NAME

PACE = float(os.environ.get("QZ_CONSOLE_TEST_PACE", "20"))  # the issue's --pace 20; lower on a crowded machine
WAIT_MS = 60_000   # [ms] longest wait for something the flight must do (a loaded machine flies late)
APPROACH_MODES = ("CLOSING", "FINAL_APPROACH", "HOLD")

CFG = load_flight_config()

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    chromium = need_browser()
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("console")
    keys = key_file(folder)
    flight = Flight(folder, keys, PACE)
    console = pw = browser = None
    try:
        flight.start()
        console = ConsoleProcess(folder, flight.url, keys)
        pw = sync_playwright().start()
        browser = launch(pw, chromium)
        yield flight, console, browser
    finally:
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
        if console is not None:
            console.close()
        flight.close()


@pytest.fixture
def page(live):
    _, console, browser = live
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    pg.posted = []
    pg.on("request", lambda r: pg.posted.append(r.url) if r.method == "POST" else None)
    pg.goto(console.url)
    try:
        yield pg
    finally:
        context.close()


def _range(pg) -> float:
    return float(pg.get_attribute("#ov-range", "data-value"))


def _approaching(pg, flight) -> str:
    """The mode the overview shows, which must be one of the approach: else the flight itself left it (its
    FDIR, when it skipped frames on a crowded machine), and an approach test has nothing to check."""
    pg.goto(pg.url.split("#")[0] + "#overview")
    pg.wait_for_function("document.querySelector('#ov-mode').dataset.mode !== undefined")
    mode = pg.text_content("#ov-mode")
    assert mode in APPROACH_MODES, (f"the flight is in {mode}, not approaching: see {flight.events_log}"
                                    f" (cycle slips at --pace {PACE:g}?)")
    return mode


def _with_events(text: str, flight, lines: int = 15) -> str:
    """A command row's text and the last lines of the flight's events.log: what the flight did meanwhile."""
    log = flight.events_log
    tail = log.read_text().splitlines()[-lines:] if log.exists() else [f"(no {log})"]
    return "\n".join([text, f"last events of {log}:", *tail])


def _send(pg, name: str, flight):
    """Press a command's Send on the commands page; its history row once the status is final, which must be
    COMPLETED. What the console or the flight said otherwise is in the failure, with the flight's last events."""
    pg.click(f"#send-{name}")
    pg.wait_for_function(f"!['', 'sending...'].includes(document.querySelector('#msg-{name}').textContent)")
    said = pg.text_content(f"#msg-{name}")
    queued = re.match(r"queued as #(\d+)", said)
    assert queued, _with_events(f"{name}: {said}", flight)
    row = pg.locator(f'#cmd-history tbody tr[data-id="{queued.group(1)}"]')
    row.locator("td:nth-child(5):not(.status-pending)").wait_for()  # the final status, whatever it is
    assert row.get_attribute("data-status") == "COMPLETED", _with_events(row.text_content(), flight)
    return row


def test_overview_shows_the_mode_and_a_decreasing_range(live, page):
    mode = _approaching(page, live[0])
    assert page.text_content("#bar-mode") == f"mode {mode}"
    page.wait_for_function("document.querySelector('#ov-range').dataset.value !== undefined")
    first = _range(page)
    # the 400 m hold lasts 200 mission seconds (10 s at --pace 20), then the vehicle closes at the profile's speed
    page.wait_for_function(f"parseFloat(document.querySelector('#ov-range').dataset.value) < {first - 2.0}")
    assert _range(page) < first - 2.0
    assert page.text_content("#link-badge").startswith("LINK UP")


def test_out_of_range_input_is_refused_in_the_page(page):
    page.goto(page.url.split("#")[0] + "#commands")
    page.fill("#arg-SET_HEATER_SETPOINT-zone", "1")
    page.fill("#arg-SET_HEATER_SETPOINT-setpoint_C", "99")
    assert page.text_content("#err-SET_HEATER_SETPOINT-setpoint_C") == "setpoint_C: 99 is out of range [-20, 40]"
    assert page.is_disabled("#send-SET_HEATER_SETPOINT")
    page.click("#send-SET_HEATER_SETPOINT", force=True)  # a disabled button sends nothing
    page.fill("#arg-SET_HEATER_SETPOINT-zone", "1.5")
    assert "not an integer" in page.text_content("#err-SET_HEATER_SETPOINT-zone")
    page.wait_for_timeout(300)
    assert not [u for u in page.posted if u.endswith("/api/command")]
    page.fill("#arg-SET_HEATER_SETPOINT-zone", "1")
    page.fill("#arg-SET_HEATER_SETPOINT-setpoint_C", "25")
    assert page.is_enabled("#send-SET_HEATER_SETPOINT")


def test_hazardous_command_cannot_be_sent_without_the_confirmation(page):
    page.goto(page.url.split("#")[0] + "#commands")
    page.click("#send-ABORT")
    assert page.is_visible("#confirm") and page.is_disabled("#confirm-send")
    page.click("#confirm-send", force=True)  # not confirmed: nothing goes
    page.click("#confirm-cancel")
    assert page.is_hidden("#confirm")
    page.wait_for_timeout(300)
    assert not [u for u in page.posted if u.endswith("/api/command")]
    # the server refuses it too, whatever a page sends
    status, body = page.evaluate("""async () => {
        const r = await fetch('/api/command', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                               body: JSON.stringify({name: 'ABORT', args: {}})});
        return [r.status, (await r.json()).error];
    }""")
    assert status == 400 and "explicit confirmation" in body
    assert page.locator("#cmd-history tbody tr").count() == 0


def test_packet_page_shows_every_field_with_unit_and_limits(page):
    page.goto(page.url.split("#")[0] + "#packet/THERMAL_ZONES")
    page.wait_for_function("document.querySelector('#pv-temp_C-0').textContent !== ''")
    rows = page.locator("#pkt-table tbody tr")
    assert rows.count() == sum(1 if f.count == 1 else f.count for f in TM_BY_NAME["THERMAL_ZONES"].fields)
    cabin = CFG.zones[0]
    assert page.text_content("#pv-temp_C-0-lim").endswith(f"R {cabin.limit_lo_C:g}..{cabin.limit_hi_C:g}")
    assert page.get_attribute("#pv-temp_C-0", "class").split()[-1] in ("lim-0", "lim-1", "lim-2")


def test_event_log_filters_by_severity_and_source(page):
    page.goto(page.url.split("#")[0] + "#events")
    page.wait_for_function("document.querySelectorAll('#ev-table tbody tr').length > 0")
    for box in page.locator(".ev-sev").all():
        if box.get_attribute("value") != "INFO":
            box.uncheck()
    column = "[...document.querySelectorAll('#ev-table tbody tr td:nth-child({})')].map(td => td.textContent)"
    page.wait_for_function(f"(c => c.length > 0 && c.every(s => s === 'INFO'))({column.format(2)})")
    source = page.locator("#ev-table tbody tr td:nth-child(3)").first.text_content()
    page.click("#ev-source")  # its list fills from the sources known so far
    page.select_option("#ev-source", source)
    page.wait_for_function(f"(c => c.length > 0 && c.every(s => s === {source!r}))({column.format(3)})")
    assert set(page.locator("#ev-table tbody tr td:nth-child(2)").all_text_contents()) == {"INFO"}


def test_approach_hold_from_the_panel_completes_and_guidance_reports_hold(live, page):
    # a new flight, at the start of its approach: the one the tests before this began may dock or end its run
    # while a loaded machine runs them (final_approach docks about 75 s of wall time after its start at --pace 20)
    flight = live[0]
    flight.kill()
    flight.start()
    page.wait_for_function("document.querySelector('#link-badge').textContent.startsWith('LINK UP')")
    page.wait_for_function("document.querySelector('#ov-mode').dataset.mode !== undefined")
    _approaching(page, flight)
    page.goto(page.url.split("#")[0] + "#commands")
    row = _send(page, "APPROACH_HOLD", flight)
    assert "APPROACH_HOLD: ACCEPTED, COMPLETED" in row.locator("td:nth-child(4)").text_content()
    page.goto(page.url.split("#")[0] + "#overview")
    page.wait_for_function("document.querySelector('#ov-mode').textContent === 'HOLD'")
    page.click("#nav a[data-page=commands]")
    # the ground's HOLD stands over FDIR's own recoveries (an overrun storm's on a loaded machine): RESUME lifts it
    _send(page, "APPROACH_RESUME", flight)


def test_page_renders_with_the_network_cut_off_but_for_the_console(live):
    _, console, browser = live
    own = urlsplit(console.url).netloc
    foreign = []
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)

    def only_the_console(route):
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_console)
    try:
        pg = context.new_page()
        pg.goto(console.url)
        pg.wait_for_function("window.Plotly !== undefined && document.querySelector('#ov-mode').dataset.mode")
        pg.wait_for_selector("#ov-approach-plot .main-svg")
        pg.goto(console.url + "#plots")
        pg.wait_for_selector(".plot-card .main-svg")
        assert pg.locator("#ov-zones tbody tr").count() == 5
    finally:
        context.close()
    assert foreign == []


def test_killing_the_flight_shows_the_link_lost_then_the_console_reconnects(live, page):
    flight = live[0]
    if flight.proc.poll() is not None:  # it docked and ended its run while the tests before this one ran
        flight.start()
    page.wait_for_function("document.querySelector('#link-badge').textContent.startsWith('LINK UP')")
    flight.kill()
    page.wait_for_selector("#link-banner:not([hidden])", timeout=15_000)
    assert page.text_content("#link-badge") == "LINK LOST"
    assert "the flight closed the link" in page.text_content("#link-banner")
    flight.start()
    page.wait_for_function("document.querySelector('#link-badge').textContent.startsWith('LINK UP')")
    assert page.is_hidden("#link-banner")
