"""Output files written whole or not at all: a temp file beside the target, synced, renamed.

Every file rotwatch writes for people or other programs (exports, reports) goes through
`atomic_output`, so a reader never sees half a file, a full disk or a Ctrl-C never leaves
a truncated target or a stray temp file, and a crash right after the command returns
cannot lose what it reported as written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# A crash (SIGKILL, power loss) is the one case that can leave a temp file behind; its
# name says what it was, so a person can tell it from real output.
_TEMP_SUFFIX = ".rotwatch-tmp"


class OutputError(OSError):
    """An output file could not be written; the message names it. The target is as it was."""


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[BinaryIO]:
    """Write `target` through a binary file that replaces it only once complete and synced.

    The temp file is in the target's directory (a rename is atomic only within one file
    system), is flushed and fsynced before the rename, and the directory is fsynced after
    it (the rename itself must survive a crash). On any error, KeyboardInterrupt included,
    the temp file is removed and the target is left as it was; an OSError comes out as an
    `OutputError` naming the target.
    """
    temp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp, fd = _create_temp(target)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
        temp = None  # it is the target now
        _fsync_directory(target.parent)
    except OSError as exc:
        raise OutputError(exc.errno, f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()


def write_text_atomic(target: Path, text: str) -> None:
    """`atomic_output` for a whole text, as UTF-8."""
    with atomic_output(target) as fh:
        fh.write(text.encode("utf-8"))


def _create_temp(target: Path) -> tuple[Path, int]:
    # A random name with O_EXCL: never another writer's temp file, never a symlink planted
    # in the directory. Mode 0o666 lets the umask decide, as for any file a command
    # creates (mkstemp would make every report 0600); a file being rewritten keeps the mode
    # chosen for it.
    try:
        keep: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        keep = None
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{_TEMP_SUFFIX}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        if keep is not None:
            try:
                os.fchmod(fd, keep)
            except BaseException:
                os.close(fd)
                temp.unlink()
                raise
        return temp, fd


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
