"""The README tells the truth: its demo transcript is what `billsync demo` prints today."""

from __future__ import annotations

from tests import readme_demo


def test_readme_demo_transcript_is_what_the_demo_prints_today() -> None:
    readme = readme_demo.README.read_text(encoding="utf-8")
    expected = readme_demo.masked(readme_demo.trim(readme_demo.run_demo()))
    assert readme_demo.masked(readme_demo.readme_block(readme)) == expected, (
        "README.md's demo transcript is out of date: run `make readme` and commit the result"
    )


def test_trim_shows_the_extraction_block_once_and_masks_ports_and_shipped_paths() -> None:
    output = (
        "Reading Billomat account at http://127.0.0.1:40111/api\n  Kunden: 30 clients in 0.0 s\n"
        "pull: done\n"
        "mapping   ok  /opt/venv/lib/python3.11/site-packages/sync/defaults/mappings/billomat.yaml\n"
        "Reading Billomat account at http://127.0.0.1:40111/api\n  Kunden: 30 clients in 0.0 s\n"
        "Plan: no changes\n"
    )
    assert readme_demo.trim(output) == (
        "$ make demo\nReading Billomat account at http://127.0.0.1:8080/api\n  Kunden: 30 clients in 0.0 s\n"
        "pull: done\nmapping   ok  mappings/billomat.yaml\n...\nPlan: no changes\n"
    )
