"""Content kept outside Kafka (attachments, oversized bodies, raw messages), addressed by the
sha256 of its bytes: `<root>/ab/cd/abcd…` under `settings.attachments_path`.

Writing is atomic (temporary file, rename), so a reader never sees half a blob, idempotent
(storing the same bytes twice keeps one file) and durable when `put` returns; inside
`durable_batch()` the flush to disk happens once for the whole batch, at its end. Events carry only the `StoredBlob`
reference (hash, size, type, name); the agent UI opens the bytes by hash for download."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from events.envelope import StoredBlob

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INCOMING = itertools.count()  # temporary file names of this process


class BlobNotFound(LookupError):
    """No blob with that hash is stored here."""


class BlobSink(Protocol):
    def put(self, data: bytes, content_type: str = "application/octet-stream", filename: str | None = None) -> StoredBlob:
        """Stores `data` durably (or finds it already stored) and returns its reference."""

    def durable_batch(self) -> contextlib.AbstractContextManager[None]:
        """Defers durability of the blobs put inside to the end of the block."""


def describe(data: bytes, content_type: str = "application/octet-stream", filename: str | None = None) -> StoredBlob:
    """The reference of `data` without storing it."""
    return StoredBlob(
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), content_type=content_type, filename=filename or None
    )


class BlobStore:
    """Blobs as files under `root`; safe for several processes writing the same blob."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._pending: list[Path] | None = None
        # A backlog import puts thousands of blobs a second: `put` works on strings, knows the
        # fan-out folders it made, and names its temporary files itself (pathlib, repeated
        # mkdir and tempfile's random names were a fifth of a mail's parse).
        self._root = os.fspath(self.root)
        self._folders: set[str] = set()

    def path_of(self, sha256: str) -> Path:
        return Path(self._path_of(sha256))

    def _path_of(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise BlobNotFound(f"{sha256!r} is not a sha256 hex digest")
        return os.path.join(self._root, sha256[:2], sha256[2:4], sha256)

    def put(self, data: bytes, content_type: str = "application/octet-stream", filename: str | None = None) -> StoredBlob:
        blob = describe(data, content_type, filename)
        target = self._path_of(blob.sha256)
        try:
            if os.stat(target).st_size == blob.size:
                return blob
        except FileNotFoundError:
            pass
        folder = os.path.dirname(target)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        # unique among processes (pid) and among the puts of this one (counter); O_EXCL refuses
        # a leftover of an earlier process that had the same pid
        tmp = os.path.join(folder, f".incoming-{os.getpid()}-{next(_INCOMING)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                if self._pending is None:
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if self._pending is not None:
            self._pending.append(Path(target))
        return blob

    @contextlib.contextmanager
    def durable_batch(self) -> Iterator[None]:
        """Blobs put inside are on disk when the block ends (one filesystem sync, not one per blob)."""
        if self._pending is not None:
            yield
            return
        self._pending = []
        try:
            yield
            if self._pending:
                _sync_filesystem(self.root, self._pending)
        finally:
            self._pending = None

    def exists(self, sha256: str) -> bool:
        try:
            return self.path_of(sha256).is_file()
        except BlobNotFound:
            return False

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes for reading; raises BlobNotFound when absent."""
        try:
            return self.path_of(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256} under {self.root}") from None

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as handle:
            return handle.read()


def _sync_filesystem(root: Path, written: list[Path]) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(root, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):  # no syncfs here: flush file by file
        pass
    for path in written:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


@dataclass
class InMemoryBlobStore:
    """For unit tests: keeps blobs in a dict by hash."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    def put(self, data: bytes, content_type: str = "application/octet-stream", filename: str | None = None) -> StoredBlob:
        blob = describe(data, content_type, filename)
        self.blobs[blob.sha256] = data
        return blob

    @contextlib.contextmanager
    def durable_batch(self) -> Iterator[None]:
        yield

    def read(self, sha256: str) -> bytes:
        try:
            return self.blobs[sha256]
        except KeyError:
            raise BlobNotFound(f"no blob {sha256}") from None
