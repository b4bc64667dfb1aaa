"""Atomic file writes: a temp file in the target's folder, then ``os.replace``.

A leaf module (imports nothing from mmff) so every layer writes files the same way: readers
never see a half-written file, and an interrupted write leaves only a temp file that the next
run removes or ignores.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask once: mkstemp files are 0600, published ones are not


@contextmanager
def atomic_path(path, suffix: str = ".tmp", prefix: Optional[str] = None) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path``, on error it is removed.

    ``suffix`` matters to writers that pick a format from the name (``.png``, ``.onnx``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path, data: bytes, prefix: Optional[str] = None) -> Path:
    with atomic_path(path, prefix=prefix) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    """Text as given (no newline translation: CRLF stays CRLF)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
