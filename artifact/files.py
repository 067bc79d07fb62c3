"""Writing files whole or not at all, and sweeping what interrupted writers left behind.

Every file the artifact writes (units, figures.h5, plots, REPORT.md, run.json, compare's output,
fetched data) goes through `write_bytes`: the bytes are written to a temporary file in the target's
folder under a name unique to this host, process and call, flushed and fsynced, then renamed over
the target. A reader therefore sees the old file or the new one, never a part; any number of
processes may write the same target at once (the last rename wins, and the artifact's writers of
one target write the same content), so no lock is needed. That matters on cluster file systems
(NFS, Lustre), where `flock` may silently do nothing but a rename within one folder is atomic.

A write the file system refuses (disk full, quota, read-only, I/O error) raises `StorageError` with
one line naming the file and the cause, after its temporary file is removed.
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


class StorageError(Exception):
    """The file system refused a write: an environment fault, not bad input."""


def _cause(error: OSError) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk or quota is full; free space (or choose another --out) and rerun the same command"
    return f"{error.strerror or error}; check the file system, then rerun the same command"


def _temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside `path`, named .NAME~HOST~PID~RANDOM.tmp (see `remove_stale`)."""
    prefix = f".{path.name}~{socket.gethostname()}~{os.getpid()}~"
    return tempfile.mkstemp(prefix=prefix, suffix=TEMPORARY_SUFFIX, dir=path.parent)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably; raise StorageError if the file system refuses."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temporary(path)
    except OSError as error:
        raise StorageError(f"cannot write {path}: {_cause(error)}") from error
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from a shared project group
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise StorageError(f"cannot write {path}: {_cause(error)}") from error
        raise


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; some file systems refuse to open a folder for this, which is harmless."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale(folder: Path) -> list[Path]:
    """Delete the temporary files of this host's writers that are no longer running. Returns them.

    A temporary file of a live process, or of another host sharing the folder (a SLURM array), is
    kept: it may be a write in progress.
    """
    host = socket.gethostname()
    removed = []
    for tmp in Path(folder).glob(f".*{TEMPORARY_SUFFIX}"):
        parts = tmp.name.split("~")
        try:
            tmp_host, pid = parts[1], int(parts[2])
        except (IndexError, ValueError):
            continue
        if tmp_host == host and not _process_alive(pid):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
