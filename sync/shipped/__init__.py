"""The files billsync ships: the default mappings and the sample account, found from any directory."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

MAPPINGS = Path("mappings")

# The editable install (`make install`) runs the source folder, where these are the top-level
# mappings/ and sample_data/ (pyproject's package-dir maps them into the wheel as sync/shipped/...).
_SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent


def shipped(relative: Path | str) -> Path:
    """The shipped file or folder `relative` (e.g. 'mappings/billomat.yaml', 'sample_data').

    The installed package's copy first; a path that exists nowhere is returned as the package's,
    so an error message names where the installation should have it.
    """
    # billsync is installed as files (a wheel, never a zip), so the resource is a real path.
    packaged = Path(str(files(__name__).joinpath(str(relative))))
    if packaged.exists():
        return packaged
    source = _SOURCE_ROOT / relative
    return source if source.exists() else packaged
