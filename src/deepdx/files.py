"""Output files written whole or not at all, and one writer at a time."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from .errors import DeepDXError


@contextmanager
def replacing(path: str | Path):
    """A temporary path beside ``path`` to write to; leaving the block puts it in place in one
    step (``os.replace``), or removes it if the block raised.  Readers see the old file or the
    whole new one, never half of it; the name is the process's own, so writers never share one."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def only_writer(path: str | Path):
    """Hold the lock on ``path`` (the file ``.<name>.lock`` beside it, holding the holder's pid)
    for the block; DeepDXError at once when another process holds it.  The holder removes the
    lock file when it leaves, so nothing is left beside the output.  The lock is the kernel's
    (flock): it ends with its process, so a lock file left by a killed run blocks nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(f".{path.name}.lock")
    while True:
        lock = open(lock_path, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            lock.close()
            raise DeepDXError(
                f"{path} is being written by another process (pid {holder}); wait for it or choose another path"
            ) from None
        try:  # a writer that finished between our open and our lock removed the file we hold: lock the new one
            same = os.fstat(lock.fileno()).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        lock.close()
    try:
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # still holding the lock: no other writer is inside
        lock.close()
