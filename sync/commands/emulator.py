"""`billsync emulator`: serve the built-in emulator of both APIs on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync.clients.ratelimit import DEFAULT_QUOTA as BILLOMAT_QUOTA
from sync.errors import EXIT_OK, ConfigError
from sync.shipped import shipped

if TYPE_CHECKING:
    from sync.emulator import Account, Emulator, SnapBillAccount
    from sync.runtime import Context

HELP = "Serve the built-in emulator of Billomat and SnapBill on 127.0.0.1, for trying mappings safely."
DEFAULT_KEY = "emulator-key"
DEFAULT_ACCOUNT = "musterfirma"
SNAPBILL_USER = "demo"
DEFAULT_SNAPBILL_PASSWORD = "emulator-snapbill-password"
SAMPLE_DATA = shipped("sample_data")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `emulator`."""
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 = any free)")
    parser.add_argument("--seed", metavar="DIR", help="account to serve (default: the shipped sample_data/)")
    parser.add_argument("--generate", type=int, metavar="N", help="serve a generated account of N clients instead")
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        default="",
        help="inject faults, e.g. '5xx=0.1,429=0.05,timeout=0.01,lost=0.05,seed=7'",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=BILLOMAT_QUOTA,
        metavar="N",
        help="requests per 15 minutes (default 300, Billomat's; 0 = off); another number is also sent in an "
        "X-Rate-Limit-Limit header, which Billomat does not send",
    )
    parser.add_argument(
        "--contacts-bulk",
        choices=("allow", "refuse", "empty"),
        default="refuse",
        help="how GET /contacts without client_id answers: the docs make client_id mandatory (refuse, "
        "the default); the real answer is unconfirmed",
    )
    parser.add_argument(
        "--contact-inherit",
        choices=("copy", "read"),
        default="copy",
        help="how a contact's empty address fields take its client's values: copied when the contact is "
        "written (copy, the default) or shown from the client's current values on every read (read); "
        "the real behaviour is unconfirmed",
    )


def build_emulator(
    args: argparse.Namespace, api_key: str, snapbill_password: str = DEFAULT_SNAPBILL_PASSWORD,
    billomat_id: str = DEFAULT_ACCOUNT,
) -> Emulator:
    """An Emulator configured from the command-line arguments."""
    from sync.emulator import (
        Emulator,
        EmulatorConfig,
        FaultSpec,
        SnapBillConfig,
        generate_account,
        generate_snapbill_account,
    )

    try:
        faults = FaultSpec.parse(args.faults or "")
    except ValueError as exc:
        raise ConfigError(f"--faults: {exc}") from None
    seed_dir = Path(args.seed) if args.seed else SAMPLE_DATA
    account, snapbill_account = load_seeds(seed_dir, billomat=not args.generate)
    if args.generate:
        account = generate_account(clients=args.generate)
    if args.generate and not args.seed:
        # The generated account's own migration target: every custom field the shipped mapping fills.
        snapbill_account = generate_snapbill_account()
    snapbill = SnapBillConfig(user=SNAPBILL_USER, password=snapbill_password, account=snapbill_account)
    return Emulator(
        EmulatorConfig(
            billomat_id=billomat_id,
            api_key=api_key,
            account=account,
            rate_limit=args.rate_limit,
            # Billomat states no quota; a made-up one is stated, or billsync would budget for 300.
            rate_limit_header=args.rate_limit not in (0, BILLOMAT_QUOTA),
            faults=faults,
            contacts_bulk=args.contacts_bulk,
            contact_inherit=args.contact_inherit,
            port=args.port,
            snapbill=snapbill,
        )
    )


def load_seeds(seed_dir: Path, *, billomat: bool = True) -> tuple[Account | None, SnapBillAccount | None]:
    """The Billomat seed (billomat.json) and, when the folder has one, the SnapBill seed of `seed_dir`.

    ConfigError names the file: a broken or missing seed is the user's to fix, not an internal error.
    """
    from sync.emulator import load_seed, load_snapbill_seed

    try:
        account = load_seed(seed_dir) if billomat else None
        snapbill_seed = seed_dir / "snapbill.json" if seed_dir.is_dir() else None
        snapbill = load_snapbill_seed(snapbill_seed) if snapbill_seed and snapbill_seed.is_file() else None
    except (OSError, ValueError) as exc:
        origin = "the shipped sample account" if seed_dir == SAMPLE_DATA else f"--seed {seed_dir}"
        raise ConfigError(f"{origin}: {exc}") from None
    return account, snapbill


def run(ctx: Context) -> int:
    """Serve until interrupted; prints the settings that point billsync at it."""
    env = ctx.settings.env
    api_key = env.get("BILLOMAT_API_KEY") or DEFAULT_KEY
    snapbill_password = env.get("SNAPBILL_PASSWORD") or DEFAULT_SNAPBILL_PASSWORD
    emu = build_emulator(ctx.args, api_key, snapbill_password)
    with emu.running():
        out = ctx.reporter
        out.info(f"billsync emulator serving on {emu.base_url} (Ctrl-C to stop)")
        out.info("Point billsync at it with:")
        out.info(f"  export BILLOMAT_BASE_URL={emu.billomat_url}")
        if api_key == DEFAULT_KEY:
            out.info(f"  export BILLOMAT_API_KEY={DEFAULT_KEY}")
        else:
            out.info("  (it accepts the BILLOMAT_API_KEY of this shell)")
        out.info(f"  export SNAPBILL_BASE_URL={emu.snapbill_url} SNAPBILL_USER={SNAPBILL_USER}")
        if snapbill_password == DEFAULT_SNAPBILL_PASSWORD:
            out.info(f"  export SNAPBILL_PASSWORD={DEFAULT_SNAPBILL_PASSWORD}")
        else:
            out.info("  (it accepts the SNAPBILL_PASSWORD of this shell)")
        try:
            emu.wait()
        except KeyboardInterrupt:
            out.info("emulator stopped")
    return EXIT_OK
