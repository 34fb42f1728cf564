"""Files written whole or not at all: a temporary file beside the target, synced, then renamed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def shared_mode() -> int:
    """What an ordinary ``open()`` would give: 0666 less the umask (read only by setting it back)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temporary_beside(path: Path, *, shared: bool) -> tuple[int, str]:
    """An open descriptor and the name of a new temporary file in ``path``'s folder; private (0600,
    as mkstemp makes it) unless ``shared``, when it gets the mode an ordinary file would."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    if shared:
        os.chmod(temporary, shared_mode())
    return handle, temporary


def write_atomically(path: Path, write: Callable[[BinaryIO], object], *, shared: bool = False) -> Path:
    """Call ``write`` on a temporary file beside ``path``, sync it and rename it to ``path``; on any
    failure (Ctrl-C included) the temporary goes and ``path`` is as it was."""
    handle, temporary = temporary_beside(path, shared=shared)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
