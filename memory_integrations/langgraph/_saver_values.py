"""Channel values as the checkpointer stores them, and what a process caches of them.

Small scalars stay inline in the checkpoint row; other values are blob rows of their own. A
list that grew by appending (a message history, the usual case) is stored as the msgpack
bytes of the new elements only, pointing at the version it extends; :func:`assemble`
concatenates the bytes back, so ``serde.loads_typed`` gets byte for byte what a full write
would have stored.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import CheckpointMetadata
from langgraph.checkpoint.serde.base import SerializerProtocol

# Scalars this short are kept inside the checkpoint row instead of a blob row of their own.
_INLINE_STR_MAX = 512
_EMPTY = "empty"  # type tag of a blob row for a channel that has no value at that version
_MSGPACK = "msgpack"
_DELTA_MIN_BODY = 2048  # lists smaller than this (serialized) are always written whole
_MAX_DEPTH = 32  # a full copy at least every 33 versions bounds the rows read per value
_TAIL_CACHE = 256  # (thread, ns, channel) whose last list bytes are kept for deltas
_TAIL_MAX_BYTES = 16 * 1024 * 1024
# Assembled channel values by (thread, ns, channel, version, thread generation). A version
# string is written once per thread life (get_next_version adds a random suffix), and a
# thread deleted and created again gets a new generation, so a cached value never goes
# stale, whichever process changed the thread.
_BLOB_CACHE_BYTES = 64 * 1024 * 1024
_THREAD_HINTS = 4096  # threads whose last known clock is kept (``_pg_write``)


def _is_inline(value: Any) -> bool:
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float:
        return True
    return kind is str and len(value) <= _INLINE_STR_MAX


def _coerce_json(value: Any) -> Any:
    """A JSON-safe stand-in for ``value`` (used only for filtering lossy metadata)."""
    if isinstance(value, dict):
        return {str(k).replace("\x00", ""): _coerce_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_coerce_json(v) for v in value]
    if isinstance(value, str):
        return value.replace("\x00", "")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value).replace("\x00", "")


def _bytes(data: Any) -> bytes:
    """Binary column value as bytes (drivers may return memoryview)."""
    if data is None:
        return b""
    return data if isinstance(data, bytes) else bytes(data)


def _array_header(data: bytes) -> int:
    """Length of the msgpack array header ``data`` starts with, or 0 if it is no array."""
    if not data:
        return 0
    first = data[0]
    if 0x90 <= first <= 0x9F:
        return 1
    if first == 0xDC:
        return 3
    if first == 0xDD:
        return 5
    return 0


@dataclass(frozen=True)
class _Tail:
    """The last list value this process wrote or read for a (thread, ns, channel)."""

    version: str
    body: bytes  # msgpack elements after the array header
    depth: int
    checksum: int  # crc32 of ``body``


@dataclass(frozen=True)
class _BlobWrite:
    """One channel version a ``put`` stores: a whole value or an append delta."""

    channel: str
    version: str
    row: tuple[Any, ...]  # the blob row (``_BLOB_COLS`` order)
    full: tuple[str, bytes] | None  # the whole serialised value; None for an empty channel
    tail: _Tail | None = None  # what to remember for the next delta
    base: _Tail | None = None  # a delta: the remembered version it extends
    whole: _BlobWrite | None = None  # a delta: what to store if that base changed


@dataclass
class _CheckpointRow:
    thread_id: str
    ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: dict[str, Any]
    metadata: CheckpointMetadata
    needed: list[tuple[str, str]]  # (channel, version) to read from the blobs table
    last_access: float | None
    ttl_seconds: float | None
    generation: str


# (thread_id, checkpoint_ns, channel, version, thread generation) of a cached value
_BlobKey = tuple[str, str, str, str, str]
# (channel, version) -> (base_version, depth, checksum, type, blob) of one blob row
_BlobRows = dict[tuple[str, str], tuple[str | None, int, int | None, str, bytes]]


class _BrokenChainError(RuntimeError):
    pass


def assemble(
    row: _CheckpointRow, scope: _BlobRows, key: tuple[str, str]
) -> tuple[str, bytes] | None:
    """The (type, bytes) of one channel version, rebuilding append deltas."""
    entry = scope.get(key)
    if entry is None or entry[3] == _EMPTY:
        return None
    if entry[0] is None:
        return entry[3], entry[4]
    parts = [entry[4]]  # newest first
    seen = {key}
    base: str | None = entry[0]
    while base is not None:
        link = (key[0], base)
        entry = scope.get(link)
        if entry is None or link in seen or len(seen) > _MAX_DEPTH + 1:
            raise _BrokenChainError(
                f"channel {key[0]!r} version {key[1]} of thread {row.thread_id!r} "
                f"(namespace {row.ns!r}) extends version {base}, which is missing or "
                "circular; the checkpoint data is damaged"
            )
        seen.add(link)
        parts.append(entry[4])
        base = entry[0]
    out = bytearray(parts[0][: _array_header(parts[0])])
    for part in reversed(parts):
        out += memoryview(part)[_array_header(part) :]
    return _MSGPACK, bytes(out)


class ValueCache:
    """What one process remembers of the threads it wrote or read, under one lock.

    * tails: the last list bytes of a (thread, ns, channel), to write the next version as an
      append delta (the database checks the base is still as remembered);
    * values: assembled channel values by (thread, ns, channel, version, thread
      generation), bounded by bytes;
    * thread hints: (last_access, ttl) of a thread after this process's last PostgreSQL
      write, so a write need not touch the thread row every time (always checked).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tails: OrderedDict[tuple[str, str, str], _Tail] = OrderedDict()
        self._blobs: OrderedDict[_BlobKey, tuple[str, bytes] | None] = OrderedDict()
        self._blob_bytes = 0
        self._thread_hints: OrderedDict[str, tuple[float, float | None]] = OrderedDict()

    def tail(self, key: tuple[str, str, str]) -> _Tail | None:
        with self._lock:
            tail = self._tails.get(key)
            if tail is not None:
                self._tails.move_to_end(key)
            return tail

    def remember(self, key: tuple[str, str, str], tail: _Tail) -> None:
        if len(tail.body) > _TAIL_MAX_BYTES:
            return
        with self._lock:
            self._tails[key] = tail
            self._tails.move_to_end(key)
            while len(self._tails) > _TAIL_CACHE:
                self._tails.popitem(last=False)

    def forget_thread(self, thread_id: str) -> None:
        with self._lock:
            self._thread_hints.pop(thread_id, None)
            for key in [k for k in self._tails if k[0] == thread_id]:
                del self._tails[key]
            for blob_key in [k for k in self._blobs if k[0] == thread_id]:
                self._drop_blob(blob_key)

    def _drop_blob(self, key: _BlobKey) -> None:
        stored = self._blobs.pop(key)
        if stored is not None:
            self._blob_bytes -= len(stored[1])

    def cached_blob(self, key: _BlobKey) -> tuple[bool, tuple[str, bytes] | None]:
        with self._lock:
            if key not in self._blobs:
                return False, None
            self._blobs.move_to_end(key)
            return True, self._blobs[key]

    def cache_blob(self, key: _BlobKey, stored: tuple[str, bytes] | None) -> None:
        size = 0 if stored is None else len(stored[1])
        if size > _BLOB_CACHE_BYTES // 4:
            return
        with self._lock:
            if key in self._blobs:
                self._drop_blob(key)
            self._blobs[key] = stored
            self._blob_bytes += size
            while self._blob_bytes > _BLOB_CACHE_BYTES and self._blobs:
                self._drop_blob(next(iter(self._blobs)))

    def seed_tail(
        self, row: _CheckpointRow, scope: _BlobRows, key: tuple[str, str], data: bytes
    ) -> None:
        entry = scope[key]
        header = _array_header(data)
        if entry[2] is not None and header and len(data) - header >= _DELTA_MIN_BODY:
            self.remember(
                (row.thread_id, row.ns, key[0]), _Tail(key[1], data[header:], entry[1], entry[2])
            )

    def thread_hint(self, thread_id: str) -> tuple[float, float | None] | None:
        with self._lock:
            return self._thread_hints.get(thread_id)

    def set_thread_hint(self, thread_id: str, hint: tuple[float, float | None]) -> None:
        with self._lock:
            self._thread_hints[thread_id] = hint
            self._thread_hints.move_to_end(thread_id)
            while len(self._thread_hints) > _THREAD_HINTS:
                self._thread_hints.popitem(last=False)


def blob_write(
    serde: SerializerProtocol,
    cache: ValueCache,
    thread_id: str,
    ns: str,
    channel: str,
    version: str,
    value: Any,
    deltas: bool,
) -> _BlobWrite:
    """How to store one channel version: whole, or as an append delta on the version
    this process last wrote or read (when ``deltas`` and the value extends it)."""
    type_, data = serde.dumps_typed(value)
    full = (type_, data)
    header = _array_header(data) if type_ == _MSGPACK else 0
    if not header or len(data) - header < _DELTA_MIN_BODY:
        row: tuple[Any, ...] = (thread_id, ns, channel, version, None, 0, None, type_, data)
        return _BlobWrite(channel, version, row, full)
    body = data[header:]
    tail = cache.tail((thread_id, ns, channel)) if deltas else None
    if (
        tail is None
        or tail.version == version
        or tail.depth >= _MAX_DEPTH
        or not data.startswith(tail.body, header)
    ):
        checksum = zlib.crc32(body)
        row = (thread_id, ns, channel, version, None, 0, checksum, type_, data)
        return _BlobWrite(channel, version, row, full, _Tail(version, body, 0, checksum))
    suffix = data[header + len(tail.body) :]
    # CRC-32 continued over the suffix: the checksum of the whole body.
    new = _Tail(version, body, tail.depth + 1, zlib.crc32(suffix, tail.checksum))
    whole_row = (thread_id, ns, channel, version, None, 0, new.checksum, type_, data)
    whole = _BlobWrite(channel, version, whole_row, full, dataclasses.replace(new, depth=0))
    row = (
        thread_id,
        ns,
        channel,
        version,
        tail.version,
        new.depth,
        new.checksum,
        type_,
        data[:header] + suffix,
    )
    return _BlobWrite(channel, version, row, full, new, tail, whole)
