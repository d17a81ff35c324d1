"""Reporter: secrets masked everywhere, bars only on a terminal, plain lines under cron."""

from __future__ import annotations

import io
import logging

from sync.progress import MASK, RedactingFilter, Redactor, Reporter


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


def test_quiet_keeps_warnings_errors_and_the_summary():
    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter(out=out, err=err, quiet=True)
    reporter.info("hidden")
    reporter.warn("shown")
    reporter.summary("pull: done")
    assert out.getvalue() == "pull: done\n" and err.getvalue() == "warning: shown\n"


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
