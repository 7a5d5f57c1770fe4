"""Errors that stop a run, and the exit codes they map to.

Discrepancies in the data are never exceptions: they are finding rows. An
exception means the run cannot produce a complete, trustworthy result::

    ReconcileError                    exit 4 unless a subclass says otherwise
    ├── UsageError                    exit 2  bad flags, config, or rule file
    │   ├── ConfigError               exit 2  config file: file, line, key
    │   └── RuleError                 exit 2  rule file: file, line, rule id
    └── InputDataError                exit 3  provider page or data file unusable

Each error knows its exit code and renders itself as one message that names
the place (file and line, provider and page, invoice id).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    CLEAN = 0
    FINDINGS = 1
    USAGE = 2
    INPUT_DATA = 3
    INTERNAL = 4
    #: stopped by Ctrl-C (SIGINT): 128 + 2, the shell's convention; never "findings"
    INTERRUPTED = 130


class ReconcileError(Exception):
    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ReconcileError):
    exit_code = ExitCode.USAGE


def _located(path: object, line: int | None, message: str, what: str | None = None) -> str:
    where = f"{path}:{line}" if line else f"{path}"
    return f"{where}: {what + ': ' if what else ''}{message}"


class ConfigError(UsageError):
    def __init__(self, message: str, *, path: object = None, line: int | None = None) -> None:
        self.path, self.line = path, line
        super().__init__(_located(path, line, message) if path else message)


class RuleError(UsageError):
    def __init__(
        self, message: str, *, path: object, line: int | None, rule_id: str | None = None
    ) -> None:
        self.path, self.line, self.rule_id = path, line, rule_id
        super().__init__(_located(path, line, message, f"rule {rule_id}" if rule_id else None))


class InputDataError(ReconcileError):
    """A provider page or a data file that cannot be read as documented."""

    exit_code = ExitCode.INPUT_DATA

    def __init__(self, message: str, *, source: str, location: str) -> None:
        self.source, self.location = source, location
        super().__init__(f"{source}: {location}: {message}")
