"""python -m stack.signing_key FILE: print the key every controller of one shared store signs with, making
it first if FILE does not exist. ./build_and_run.sh passes it on as CONTROLLER_SECRET_KEY.

Controllers on one table must sign the page's session cookie (and its CSRF token) with the same key, or a
page signed in through one of them is a stranger to the next. The key stays in FILE, readable by its owner
only, so that sessions outlive a restart; a FILE that others may read, or that holds too short a key, is
refused rather than used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
from pathlib import Path

MIN_LENGTH = 32  # what the controller requires of CONTROLLER_SECRET_KEY on the shared store
NEW_KEY_BYTES = 48  # 64 characters of URL-safe base64


class KeyFileError(RuntimeError):
    """The key file cannot be used: the message says why and what to do."""


def _make(path: Path) -> None:
    """Write a new key to path unless it exists; of two runs at once, exactly one key wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.unlink(missing_ok=True)  # one a killed run left, whatever its mode
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(NEW_KEY_BYTES) + "\n")
        with contextlib.suppress(FileExistsError):  # another run made it first: theirs is the key
            os.link(draft, path)  # whole or not at all, never a half-written key
    finally:
        draft.unlink()


def signing_key(path: Path) -> str:
    """Return the key kept in path, making it first if there is none."""
    if not path.exists():
        _make(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"{path} may be read by other users (mode {mode:04o}): run chmod 600 {path}, or delete it to make"
            " a new key (every page session signed with the old one ends)."
        )
    key = path.read_text().strip()
    if len(key) < MIN_LENGTH:
        raise KeyFileError(
            f"{path} holds a key of {len(key)} characters, and at least {MIN_LENGTH} are needed: delete it to make"
            " a new one."
        )
    return key


def main(arguments: list[str]) -> int:
    if len(arguments) != 1:
        print("usage: python -m stack.signing_key FILE", file=sys.stderr)
        return 2
    try:
        print(signing_key(Path(arguments[0])))
    except (KeyFileError, OSError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
