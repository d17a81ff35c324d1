"""Reporter: secrets masked everywhere, bars only on a terminal, plain lines under cron."""

from __future__ import annotations

import io
import logging
import re

from sync.clock import FakeClock
from sync.progress import MASK, RedactingFilter, Redactor, Reporter, ReporterHandler
from tests.e2e import Terminal


def test_registered_secrets_are_masked_in_every_line():
    redact = Redactor()
    redact.add("s3cr3t-key")
    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter(out=out, err=err, redact=redact, verbose=True)
    reporter.info("key s3cr3t-key")
    reporter.detail("GET /clients?api_key=s3cr3t-key")
    reporter.warn("s3cr3t-key")
    reporter.error("s3cr3t-key")
    assert "s3cr3t" not in out.getvalue() + err.getvalue()
    assert out.getvalue().count(MASK) == 2 and err.getvalue().count(MASK) == 2


def test_log_records_are_masked_whatever_the_handler(caplog):
    redact = Redactor()
    redact.add("s3cr3t-key")
    logger = logging.getLogger("billsync.test")
    logger.addFilter(RedactingFilter(redact))
    with caplog.at_level(logging.DEBUG, logger="billsync.test"):
        logger.debug("header %s", "s3cr3t-key")
    assert "s3cr3t" not in caplog.text and MASK in caplog.text


def test_no_progress_bars_when_not_on_a_terminal():
    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter(out=out, err=err)
    assert not reporter.bars
    with reporter.bar("Kunden", total=3, unit="clients") as bar:
        bar.update(3)
        bar.close()
    assert out.getvalue().startswith("  Kunden: 3 clients in ")
    assert err.getvalue() == ""


def test_quiet_success_prints_nothing_and_logs_warnings_and_summary():
    out, err, log = io.StringIO(), io.StringIO(), io.StringIO()
    reporter = Reporter(out=out, err=err, quiet=True, log=log)
    reporter.info("hidden")
    reporter.warn("row 7 left out")
    reporter.notice("waiting 13 min 51 s")
    reporter.summary("pull: done")
    reporter.finish(0)
    assert out.getvalue() == "" and err.getvalue() == ""
    assert [line[20:] for line in log.getvalue().splitlines()] == [
        "warning: row 7 left out",
        "waiting 13 min 51 s",
        "pull: done",
    ]


def test_quiet_failure_prints_summary_and_reasons_on_stderr_once():
    out, err, log = io.StringIO(), io.StringIO(), io.StringIO()
    reporter = Reporter(out=out, err=err, quiet=True, log=log)
    reporter.info("hidden")
    reporter.warn("row 7 left out")
    reporter.notice("  conflict: Kunden row 8 held")
    reporter.summary("sync: conflicts 1 held")
    reporter.finish(1)
    assert out.getvalue() == ""
    assert err.getvalue().splitlines() == ["warning: row 7 left out", "  conflict: Kunden row 8 held", "sync: conflicts 1 held"]
    assert len(log.getvalue().splitlines()) == 3  # logged when said, not a second time at the end


def test_without_quiet_notices_and_summary_go_to_stdout_at_once():
    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter(out=out, err=err)
    reporter.notice("waiting")
    reporter.summary("pull: done")
    reporter.warn("w")
    reporter.finish(1)
    assert out.getvalue() == "waiting\npull: done\n" and err.getvalue() == "warning: w\n"


def test_log_records_become_product_lines_never_level_and_module():
    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter(out=out, err=err)
    logger = logging.getLogger("sync.test_progress")
    logger.propagate = False
    handler = ReporterHandler(reporter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.warning("GET /clients: refused order_by=%r", "id ASC")
        logger.info("the earlier attempt did land")
    finally:
        logger.removeHandler(handler)
    assert err.getvalue() == "warning: GET /clients: refused order_by='id ASC'\n"
    assert out.getvalue() == "  the earlier attempt did land\n"
    assert not re.search(r"^(WARNING|INFO|ERROR|DEBUG) ", out.getvalue() + err.getvalue(), re.MULTILINE)


def test_a_long_wait_counts_down_on_a_terminal_driven_by_the_clock():
    clock = FakeClock()
    err = Terminal()
    reporter = Reporter(out=io.StringIO(), err=err)
    reporter.countdown(125.0, clock, "next window in")
    assert sum(clock.sleeps) == 125.0 and len(clock.sleeps) == 125  # one tick a second, no real sleeping
    shown = err.getvalue()
    for left in ("2:05 left", "1:00 left", "0:01 left"):
        assert left in shown


def test_a_wait_off_a_terminal_is_one_sleep_and_no_countdown():
    clock = FakeClock()
    err = io.StringIO()
    Reporter(out=io.StringIO(), err=err).countdown(125.0, clock, "next window in")
    assert clock.sleeps == [125.0] and err.getvalue() == ""


def test_a_step_shows_its_label_on_a_terminal_only():
    terminal, pipe = Terminal(), io.StringIO()
    with Reporter(out=io.StringIO(), err=terminal).step("Writing snapshot"):
        pass
    with Reporter(out=io.StringIO(), err=pipe).step("Writing snapshot"):
        pass
    assert "Writing snapshot" in terminal.getvalue() and pipe.getvalue() == ""


def test_log_file_gets_every_shown_line_time_stamped_and_masked():
    redact = Redactor()
    redact.add("s3cr3t-key")
    out, err, log = io.StringIO(), io.StringIO(), io.StringIO()
    reporter = Reporter(out=out, err=err, redact=redact, log=log)
    reporter.info("pulling with s3cr3t-key")
    reporter.warn("two\nlines")
    lines = log.getvalue().splitlines()
    assert len(lines) == 3
    assert all(line[:4].isdigit() and line[10] == " " for line in lines)
    assert lines[0].endswith("pulling with *****") and lines[1].endswith("warning: two")
