"""Files that hold secrets or the fund's data: private from their first byte, never written
through a symbolic link, and never seen half-written under their own name."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PRIVATE = 0o600


class UnsafeFile(ValueError):
    """A path the fund will not write a file to: a symbolic link, or a file it must not replace."""


def refuse_symlink(path: Path) -> None:
    if path.is_symlink():
        msg = f"{path} is a symlink: refusing to write through it (remove it or name a file)"
        raise UnsafeFile(msg)


@contextlib.contextmanager
def new_file(path: Path, *, mode: int = PRIVATE, replace: bool = False) -> Iterator[IO[bytes]]:
    """A file written whole, then put in place: ``mode`` from its creation (whatever the
    umask and whatever mode a file it replaces had), created with O_EXCL and O_NOFOLLOW beside
    its place. Without ``replace`` an existing file is kept and the write refused."""
    refuse_symlink(path)
    if not replace and path.exists():
        msg = f"{path} exists: refusing to replace it"
        raise UnsafeFile(msg)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(temporary, flags, mode)
    try:
        os.fchmod(descriptor, mode)  # the umask may have taken bits away; never added any
        with os.fdopen(descriptor, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        refuse_symlink(path)
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if a file appeared there meanwhile
            temporary.unlink()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def write_new_file(path: Path, text: str, *, mode: int = PRIVATE, replace: bool = False) -> None:
    """A whole text file, as ``new_file`` makes it."""
    with new_file(path, mode=mode, replace=replace) as out:
        out.write(text.encode())
