"""The screenshot commands' shared ending: one line saying what was written or why not."""

from __future__ import annotations

from pathlib import Path

from ground.screenshot import ScreenshotError, report_shot


def test_report_shot_prints_the_file_written_and_exits_0(capsys):
    assert report_shot(lambda: Path("docs/x.png"), ScreenshotError) == 0
    assert capsys.readouterr().out == "wrote docs/x.png\n"


def _fail():
    raise ScreenshotError("chromium exited 1")


def test_report_shot_prints_why_on_stderr_and_exits_2(capsys):
    assert report_shot(_fail, ScreenshotError) == 2
    assert capsys.readouterr().err == "screenshot: chromium exited 1\n"
