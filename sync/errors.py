"""The one error root of billsync: every expected failure carries its exit code."""

from __future__ import annotations

from pathlib import Path

# Exit codes of SPEC §2.
EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FATAL = 2
EXIT_INTERRUPTED = 130


class BillsyncError(Exception):
    """Base class for expected failures; the CLI prints str(exc) (a list: one item a line), exits with exit_code."""

    exit_code: int = EXIT_FATAL


class ConfigError(BillsyncError):
    """Settings or environment are missing or invalid (names the variable or config key)."""


class MappingError(BillsyncError):
    """A mapping file is invalid; .problems lists every problem with its place in the YAML.

    The message names the file and shows every problem, one per line: whoever fixes the file
    should see all of them at once, not the first few and a count of the rest.
    """

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = f"{self.path}: {self.problems[0]}"
        else:
            lines = "".join(f"\n  {problem}" for problem in self.problems)
            message = f"{self.path}: {len(self.problems)} problems:{lines}"
        super().__init__(message)


class WorkbookError(BillsyncError):
    """The workbook cannot be read or written as the mapping says; names file, sheet, row and column."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file, self.sheet, self.row, self.column = (str(file) if file else None), sheet, row, column
        self.detail = message
        where = ", ".join(
            part
            for part in (
                f"{self.file}" if self.file else "",
                f"sheet {sheet!r}" if sheet else "",
                f"row {row}" if row is not None else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class StateError(BillsyncError):
    """The state directory (snapshot, journal, lock) is unusable."""


class LockedError(StateError):
    """Another billsync run holds the lock on this state directory."""


class ApiError(BillsyncError):
    """An API call failed; names the call (method and path, never headers or secrets)."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        api_message: str = "",
    ) -> None:
        self.method, self.path, self.status, self.api_message = method, path, status, api_message
        call = f"{method} {path}".strip()
        status_text = f" -> HTTP {status}" if status is not None else ""
        prefix = f"{call}{status_text}: " if call else ""
        super().__init__(f"{prefix}{message}")


class AuthError(ApiError):
    """The API key (or app id/secret, or SnapBill login) was refused."""


class AccountNotFoundError(ApiError):
    """The Billomat account (BILLOMAT_ID) does not exist."""


class NotFoundError(ApiError):
    """The record does not exist in this account (404 Row not found, or 401 for a foreign id)."""


class RejectedError(ApiError):
    """The API refused the request with a message (HTTP 400/422): a data problem of one record."""

    exit_code = EXIT_PARTIAL


class ProtocolError(ApiError):
    """The API answered something that is not what it documents (truncated JSON, wrong shape)."""


class RetryableError(ApiError):
    """A failure worth retrying: 5xx (also with HTML bodies), connection errors, timeouts."""

    retryable = True


class NetworkError(RetryableError):
    """The host could not be reached, the connection broke, or the request timed out."""


class ServerError(RetryableError):
    """HTTP 5xx (including load-balancer HTML pages)."""


class RateLimitedError(RetryableError):
    """HTTP 429; .reset_at is the epoch second when the next window opens (if known)."""

    def __init__(self, message: str, *, reset_at: float | None = None, **kwargs: object) -> None:
        self.reset_at = reset_at
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class IncompleteError(ApiError):
    """Paging ended with a different number of records than the API's @total."""
