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
    from sync.emulator import Emulator
    from sync.runtime import Context

HELP = "Walk through the whole story against the built-in emulator; files land in demo-out/."
DEMO_KEY = "demo-api-key-not-secret"
DEMO_SNAPBILL_PASSWORD = "demo-snapbill-password-not-secret"
DEMO_APP_ID = "billsync-demo-app"
DEMO_APP_SECRET = "demo-app-secret-not-secret"
LEAVING = ("1022", "1026")  # two clients without documents: Billomat lets them be deleted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `demo`."""
    parser.add_argument("--out", default="demo-out", metavar="DIR", help="where the demo leaves its files")


def run(ctx: Context) -> int:
    """Start the emulator with sample_data/, then pull (xlsx and CSV) and show what came out."""
    from sync.cli import main
    from sync.commands.emulator import SAMPLE_DATA, load_seeds
    from sync.emulator import Emulator, EmulatorConfig, SnapBillConfig
    from sync.runtime import Runtime

    # The account first: a missing or broken sample account ends the demo before demo-out/ is touched.
    account, snapbill_account = load_seeds(SAMPLE_DATA)
    out_dir = Path(ctx.args.out)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    say = ctx.reporter.info
    snapbill = SnapBillConfig(user="demo", password=DEMO_SNAPBILL_PASSWORD, account=snapbill_account)
    # The demo reads the account eight times (~45 requests each: this account lists contacts per client),
    # more than the 300 requests per 15 minutes an unregistered tool gets. It runs as a registered app
    # (X-AppId/X-AppSecret), which gets 1,000 (billomat-api.md §2), instead of sitting out a window.
    emu = Emulator(
        EmulatorConfig(
            billomat_id="musterfirma",
            api_key=DEMO_KEY,
            app_id=DEMO_APP_ID,
            app_secret=DEMO_APP_SECRET,
            account=account,
            port=0,
            snapbill=snapbill,
        )
    )
    with emu.running():
        env = {
            "BILLOMAT_BASE_URL": emu.billomat_url,
            "BILLOMAT_API_KEY": DEMO_KEY,
            "BILLOMAT_APP_ID": DEMO_APP_ID,
            "BILLOMAT_APP_SECRET": DEMO_APP_SECRET,
            "SNAPBILL_BASE_URL": emu.snapbill_url,
            "SNAPBILL_USER": "demo",
            "SNAPBILL_PASSWORD": DEMO_SNAPBILL_PASSWORD,
        }
        runtime = Runtime(env=env, clock=ctx.clock, out=ctx.reporter.out, err=ctx.reporter.err)
        flags = ["--no-progress"] + (["-v"] if ctx.args.verbose else [])

        def billsync(*argv: str, expect: int = EXIT_OK) -> None:
            say(f"\n$ billsync {' '.join(argv)}")
            code = main([*argv, *flags], runtime)
            say(f"(exit code {code})")
            if code != expect:
                raise BillsyncError(f"demo step 'billsync {' '.join(argv)}' ended with exit code {code}")

        say("== billsync demo ==")
        say(f"The emulator serves the sample account 'Musterfirma GmbH' ({SAMPLE_DATA}) at {emu.billomat_url}.")
        say("It behaves like Billomat: string values, list envelopes, rate-limit headers, errors.")

        say("\n-- 1. Check the setup: config, both mappings, the API key and the SnapBill login (one call each)")
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

        say("\n-- 5. An accountant edits the workbook (as in Excel): a new city, a new client with a contact,")
        say("      an attribute, a tag, a deleted client, and a column and a sheet of their own")
        for line in _edit_as_accountant(xlsx):
            say(f"  - {line}")

        say("\n-- 6. Review what would change (nothing is written; exit code 1 = changes pending)")
        billsync("plan", "--sheet", str(xlsx), "--report", str(out_dir / "aenderungen.xlsx"), expect=1)

        say("\n-- 7. Push: deletes only with --allow-deletes; new ids are written back into the workbook")
        billsync("push", "--sheet", str(xlsx), "--allow-deletes")

        say("\n-- 8. Plan again: workbook and Billomat agree")
        billsync("plan", "--sheet", str(xlsx))

        say("\n-- 9. The next day both sides change. In Billomat a colleague corrects an e-mail address and")
        say("      adds a client; in the workbook the accountant moves a client to Görlitz; and both change")
        say("      the phone number of the same client, each to something else")
        colleague = _edit_in_billomat(emu)
        for line in colleague:
            say(f"  - Billomat: {line}")
        for line in _edit_workbook_again(xlsx):
            say(f"  - workbook: {line}")

        say("\n-- 10. The nightly sync (what cron runs): each side's edits go to the other; the phone number")
        say("       is a conflict: nothing changes for it, it is listed in the sheet 'Konflikte' (exit code 1)")
        billsync("sync", "--sheet", str(xlsx), expect=1)

        say("\n-- 11. The accountant decides Billomat's number is right")
        billsync("sync", "--sheet", str(xlsx), "--prefer", "billomat")

        say("\n-- 12. Two clients leave: the accountant deletes their rows. A sync never deletes on its own: it")
        say("       lists both in the sheet 'Löschungen' for the accountant to decide (exit code 1)")
        for line in _delete_rows(xlsx, LEAVING):
            say(f"  - {line}")
        billsync("sync", "--sheet", str(xlsx), expect=1)

        say("\n-- 13. The accountant decides in the workbook: 'löschen' for one, 'behalten' for the other; the")
        say("       next sync deletes the first and puts the second's row back")
        for line in _decide(xlsx, dict(zip(LEAVING, ("löschen", "behalten"), strict=True))):
            say(f"  - {line}")
        billsync("sync", "--sheet", str(xlsx))

        say("\n-- 14. Every run is recorded: list them, look at the last one, and undo it — the deleted client")
        say("       comes back (under a new id, with its contacts, attributes and tags); the next sync adds its row")
        billsync("runs", "--sheet", str(xlsx), "--limit", "4")
        billsync("show", "last", "--sheet", str(xlsx))
        billsync("undo", "last", "--sheet", str(xlsx))
        billsync("sync", "--sheet", str(xlsx))

        say("\n-- 15. Migrate to SnapBill: every client through mappings/snapbill.yaml, with a report of what")
        say("      SnapBill cannot hold (tags, contacts, notes); archived clients are skipped")
        migration_report = out_dir / "migration.xlsx"
        billsync("migrate", "--to", "snapbill", "--report", str(migration_report), "--state", str(out_dir / ".billsync"))
        say("\n      ... and once more: the second run finds every client again and creates nothing")
        before = len(emu.snapbill_state.all_clients)
        billsync("migrate", "--to", "snapbill", "--report", str(migration_report), "--state", str(out_dir / ".billsync"))
        say(f"  SnapBill holds {len(emu.snapbill_state.clients)} clients; the second run created "
            f"{len(emu.snapbill_state.all_clients) - before}. Report: {migration_report}")
        say(f"\nRequests the emulator saw: {len(emu.requests)} (for {len(emu.state.clients)} clients).")
        say(f"Files are in {out_dir}/: open kunden.xlsx in Excel or LibreOffice.")
    ctx.reporter.summary(f"demo: done; files in {out_dir}/; {ctx.elapsed():.1f} s")
    return EXIT_OK


def _edit_as_accountant(path: Path) -> list[str]:
    """Edit the pulled workbook the way an accountant would in Excel (openpyxl stands in for Excel)."""
    from openpyxl import load_workbook
    from openpyxl.styles import PatternFill

    wb = load_workbook(path)
    kunden, kontakte = wb["Kunden"], wb["Kontakte"]
    col = {cell.value: cell.column for cell in kunden[1]}
    row_of = {kunden.cell(r, 1).value: r for r in range(2, kunden.max_row + 1)}
    done: list[str] = []
    kcol = {cell.value: cell.column for cell in kontakte[1]}
    gone = row_of["1030"]
    done.append(f"Kunden row {gone}: deleted the client {kunden.cell(gone, col['Firma']).value!r}")
    kunden.delete_rows(gone)
    orphans = [r for r in range(2, kontakte.max_row + 1) if kontakte.cell(r, kcol["Kunden-ID"]).value == "1030"]
    for r in reversed(orphans):
        kontakte.delete_rows(r)
    done.append(f"Kontakte rows {', '.join(map(str, orphans))}: deleted that client's contacts too")
    r = row_of["1003"]
    kunden.cell(r, col["Ort"]).value = "Leipzig"
    kunden.cell(r, col["Ort"]).fill = PatternFill("solid", fgColor="FFFF00")
    tags = kunden.cell(r, col["Schlagwörter"]).value or ""
    kunden.cell(r, col["Schlagwörter"]).value = f"{tags}, Newsletter" if tags else "Newsletter"
    done.append(f"Kunden row {r}: Ort -> 'Leipzig' (and a yellow fill), Schlagwörter + 'Newsletter'")
    r = row_of["1004"]
    kunden.cell(r, col["Branche"]).value = "Maschinenbau"
    done.append(f"Kunden row {r}: Branche -> 'Maschinenbau'")
    new = kunden.max_row + 1
    for header, value in (("Billomat-ID", "neu-1"), ("Firma", "Neukunde Weiß GmbH"), ("PLZ", "04109"),
                          ("Ort", "Leipzig"), ("Schlagwörter", "A-Kunde")):
        kunden.cell(new, col[header]).value = value
    done.append(f"Kunden row {new}: a new client 'Neukunde Weiß GmbH' with Billomat-ID 'neu-1' (a placeholder)")
    knew = kontakte.max_row + 1
    for header, value in (("Kunden-ID", "neu-1"), ("Vorname", "Erika"), ("Nachname", "Weiß"),
                          ("E-Mail", "erika@weiss.example")):
        kontakte.cell(knew, kcol[header]).value = value
    done.append(f"Kontakte row {knew}: a contact for 'neu-1'")
    extra = kunden.max_column + 1
    kunden.cell(1, extra).value = "Intern"
    kunden.cell(2, extra).value = "=LEN(D2)"
    wb.create_sheet("Notizen")["A1"] = "Rückruf Müller am Montag"
    done.append("a column 'Intern' with a formula, and a sheet 'Notizen' of their own")
    wb.save(path)
    return done


def _edit_in_billomat(emu: Emulator) -> list[str]:
    """What a colleague does in Billomat's web interface (here: straight in the emulator's state)."""
    emu.state.update_client("1005", {"email": "praxis@dr-weiss.example"})
    created = emu.state.create_client({"name": "Spreewald Feinkost KG", "zip": "03046", "city": "Cottbus"})
    emu.state.update_client("1007", {"phone": "+49 351 7654321"})
    return [
        "client 1005: E-Mail -> 'praxis@dr-weiss.example'",
        f"a new client {created['id']} 'Spreewald Feinkost KG'",
        "client 1007: Telefon -> '+49 351 7654321'",
    ]


def _edit_workbook_again(path: Path) -> list[str]:
    """The accountant's edits of the next day."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    kunden = wb["Kunden"]
    col = {cell.value: cell.column for cell in kunden[1]}
    row_of = {kunden.cell(r, 1).value: r for r in range(2, kunden.max_row + 1)}
    kunden.cell(row_of["1006"], col["Ort"]).value = "Görlitz"
    kunden.cell(row_of["1007"], col["Telefon"]).value = "+49 351 1111111"
    wb.save(path)
    return ["client 1006: Ort -> 'Görlitz'", "client 1007: Telefon -> '+49 351 1111111'"]


def _delete_rows(path: Path, client_ids: tuple[str, ...]) -> list[str]:
    """The accountant deletes the rows of clients that left (and their contacts' rows)."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    kunden, kontakte = wb["Kunden"], wb["Kontakte"]
    col = {cell.value: cell.column for cell in kunden[1]}
    kcol = {cell.value: cell.column for cell in kontakte[1]}
    done = []
    for client_id in client_ids:
        row = next(r for r in range(2, kunden.max_row + 1) if kunden.cell(r, 1).value == client_id)
        done.append(f"Kunden row {row}: deleted {client_id} {kunden.cell(row, col['Firma']).value!r}")
        kunden.delete_rows(row)
        for r in reversed(range(2, kontakte.max_row + 1)):
            if kontakte.cell(r, kcol["Kunden-ID"]).value == client_id:
                kontakte.delete_rows(r)
    wb.save(path)
    return done


def _decide(path: Path, decisions: dict[str, str]) -> list[str]:
    """The accountant types a decision into column Entscheidung of sheet Löschungen, per client."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    sheet_ = wb["Löschungen"]
    col = {cell.value: cell.column for cell in sheet_[1]}
    done = []
    for r in range(2, sheet_.max_row + 1):
        client_id = sheet_.cell(r, col["Billomat-ID"]).value
        if client_id in decisions and sheet_.cell(r, col["Blatt"]).value == "Kunden":
            sheet_.cell(r, col["Entscheidung"]).value = decisions[client_id]
            done.append(f"Löschungen row {r}: {client_id} -> {decisions[client_id]!r}")
    wb.save(path)
    return done


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
