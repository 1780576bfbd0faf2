"""Writing files so that a reader never sees half of one, and hashing them.

Base of the base: it imports nothing of seglib, so :mod:`seglib.artifacts` (the run
folder's files), the runner (``manifest.json``, ``LATEST``) and the demo data can all use it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(path: str | Path, write: Callable[[IO[str]], None]) -> Path:
    """Write a text file so that it is either the old file or the whole new one, never a part.

    ``write(fh)`` fills a temporary file in the same folder, which is flushed to disk and
    then renamed over ``path`` (a rename within a folder is atomic). If ``write`` fails,
    the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if os.name == "posix":  # the rename itself reaches the disk too
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError:  # some file systems cannot sync a folder
            pass
        finally:
            os.close(fd)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of a string."""
    return atomic_write(path, lambda fh: fh.write(text))


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """The file's sha256, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
