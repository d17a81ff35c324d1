"""`billsync demo` (what `make demo` runs): the story so far, against the built-in emulator."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sync import sheet
from sync.errors import EXIT_OK, BillsyncError
from sync.frames import AccountFrames
from sync.mapping import load_mapping

if TYPE_CHECKING:
    from sync.cli import Context
    from sync.emulator import Emulator

HELP = "Walk through the whole story against the built-in emulator; files land in demo-out/."
DEMO_KEY = "demo-api-key-not-secret"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `demo`."""
    parser.add_argument("--out", default="demo-out", metavar="DIR", help="where the demo leaves its files")


def run(ctx: Context) -> int:
    """Start the emulator with sample_data/, then pull (xlsx and CSV) and show what came out."""
    from sync.cli import Runtime, main
    from sync.commands.emulator import SAMPLE_DATA
    from sync.emulator import Emulator, EmulatorConfig, load_seed

    out_dir = Path(ctx.args.out)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    say = ctx.reporter.info
    emu = Emulator(EmulatorConfig(billomat_id="musterfirma", api_key=DEMO_KEY, account=load_seed(SAMPLE_DATA), port=0))
    with emu.running():
        env = {"BILLOMAT_BASE_URL": emu.billomat_url, "BILLOMAT_API_KEY": DEMO_KEY, "PATH": ""}
        runtime = Runtime(env=env, clock=ctx.clock, out=ctx.reporter.out, err=ctx.reporter.err)
        flags = ["--no-progress"] + (["-v"] if ctx.args.verbose else [])

        def billsync(*argv: str) -> None:
            say(f"\n$ billsync {' '.join(argv)}")
            code = main([*argv, *flags], runtime)
            if code != EXIT_OK:
                raise BillsyncError(f"demo step 'billsync {' '.join(argv)}' ended with exit code {code}")

        say("== billsync demo ==")
        say(f"The emulator serves the sample account 'Musterfirma GmbH' ({SAMPLE_DATA}) at {emu.billomat_url}.")
        say("It behaves like Billomat: string values, list envelopes, rate-limit headers, errors.")

        say("\n-- 1. Check the setup: config, mapping and the API key (one cheap call)")
        billsync("check")

        say("\n-- 2. Pull the account into an Excel workbook for the accountants")
        xlsx = out_dir / "kunden.xlsx"
        billsync("pull", "--out", str(xlsx))

        say("\n-- 3. The same as CSV files for German Excel (UTF-8 with BOM, ';')")
        billsync("pull", "--out", str(out_dir / "kunden-csv"), "--state", str(out_dir / ".billsync-csv"))

        say("\n-- 4. Does the workbook hold exactly what Billomat holds? Read both back and compare every cell")
        mapping = load_mapping(ctx.mapping_path())
        expected = sheet.build_tables(_emulator_frames(emu), mapping)
        for label, path in (("kunden.xlsx", xlsx), ("kunden-csv/", out_dir / "kunden-csv")):
            cells, differences = _compare(expected, sheet.read_workbook(path, mapping))
            say(f"  {label:<13} {cells:,} cells compared, {len(differences)} differences")
            for where in differences[:5]:
                ctx.reporter.warn(f"difference at {where}")
        _show_hostile(ctx, expected[mapping.sheets["clients"].sheet])
        say(f"\nRequests the emulator saw: {len(emu.requests)} (for {len(emu.state.clients)} clients).")
        say(f"Files are in {out_dir}/: open kunden.xlsx in Excel or LibreOffice.")
    ctx.reporter.summary(f"demo: done; files in {out_dir}/; {ctx.elapsed():.1f} s")
    return EXIT_OK


def _emulator_frames(emu: Emulator) -> AccountFrames:
    """What the emulated Billomat holds, as the extractor would see it."""
    state = emu.state
    return AccountFrames.from_records(
        {
            "clients": state.clients,
            "contacts": state.contacts,
            "client_properties": state.client_properties,
            "client_property_values": state.client_property_values,
            "client_tags": state.client_tags,
        }
    )


def _compare(expected: dict[str, pd.DataFrame], actual: dict[str, pd.DataFrame]) -> tuple[int, list[str]]:
    """Count the cells compared and name every one that differs (sheet, key, column)."""
    cells, differences = 0, []
    for name, want in expected.items():
        key = want.columns[0]
        want = want.set_index(key)
        got = actual[name].set_index(key)
        differences += [f"{name}, {key} {k}: a row Billomat does not have" for k in got.index.difference(want.index)]
        for column in want.columns:
            have = (got[column] if column in got else pd.Series("<no column>", index=got.index)).reindex(want.index)
            have = have.fillna("<no row>")
            cells += len(want) + 1
            for k in want.index[have.ne(want[column]).to_numpy()]:
                differences.append(f"{name}, {key} {k}, column {column!r}: {want.at[k, column]!r} became {have.at[k]!r}")
    return cells, differences


def _show_hostile(ctx: Context, kunden: pd.DataFrame) -> None:
    """Print a few cells that spreadsheets usually corrupt; they came back exactly as Billomat holds them."""
    say = ctx.reporter.info
    say("  Cells Excel would usually mangle, as they are in the workbook:")
    shown = 0
    for column in kunden.columns:
        for value in kunden[column]:
            hostile = value[:1] in ("=", "+", "-", "@", "'", "\t", "\r") or (len(value) > 1 and value[0] == "0")
            if value and (hostile or "\n" in value) and shown < 10:
                say(f"    {column:<16} {value!r}")
                shown += 1
                break
