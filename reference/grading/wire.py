"""The messages between the grader and a submission's worker: a JSON header and raw arrays, no pickle.

    [4 bytes: header length, big-endian] [header: UTF-8 JSON object] [the arrays' bytes, in order]

The header is a JSON object; its "arrays" entry lists [name, dtype, shape] for each array that
follows, and "none" the names whose value is None. Only the dtypes of ALLOWED are read (no object
arrays, so nothing in a message can run code); every size is checked before anything is read
(MAX_HEADER, MAX_MESSAGE), and the grader's reads and writes each have a deadline (Channel): a
worker that sends half a message, too much, or nothing at all is a failed part, never a stalled
grader. The worker's side (numpy and the standard library only) reads and writes blocking.
"""

import json
import math
import os
import select
import struct
import time

import numpy as np

ALLOWED = ("<f8", "<f4", "<i8", "|b1")
MAX_HEADER = 2**20        # bytes: names, shapes and a few lines of text
MAX_MESSAGE = 256 * 2**20  # bytes of arrays in one message: a batch of MNIST images is 200 KiB in float64
MAX_DIMENSIONS = 8
_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """What the worker sent cannot be read: malformed, oversized, or of a forbidden kind."""


class Gone(Exception):
    """The worker closed its end (it ended, or was killed)."""


class Late(Exception):
    """The deadline passed before the worker answered (or before it took the request)."""


def encode(header: dict, arrays: dict | None = None) -> bytes:
    """One message: header (JSON-ready) and arrays {name: ndarray or None} (a scalar is a 0-d array)."""
    specs, blobs, none = [], [], []
    for name, value in (arrays or {}).items():
        if value is None:
            none.append(name)
            continue
        array = np.asarray(value)  # tobytes() writes C order whatever the layout; shape () stays ()
        if array.dtype.kind in "iu":
            array = array.astype("<i8")
        if array.dtype.str not in ALLOWED:
            array = array.astype("<f8") if array.dtype.kind == "f" else array
        if array.dtype.str not in ALLOWED:
            raise TypeError(f"{name} is an array of {array.dtype}, not of numbers")
        specs.append([name, array.dtype.str, list(array.shape)])
        blobs.append(array.tobytes())
    text = json.dumps({**header, "arrays": specs, "none": none}).encode()
    return _LENGTH.pack(len(text)) + text + b"".join(blobs)


def parse_header(text: bytes) -> tuple[dict, list]:
    """(header, [(name, dtype, shape, bytes)]) from a header's bytes; ProtocolError where anything is off."""
    try:
        header = json.loads(text.decode())
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"the header is not JSON ({error})") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list) \
            or not isinstance(header.get("none"), list):
        raise ProtocolError("the header is not a message (a JSON object with arrays and none)")
    layout, total = [], 0
    for spec in header["arrays"]:
        if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and spec[1] in ALLOWED
                and isinstance(spec[2], list) and len(spec[2]) <= MAX_DIMENSIONS
                and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_MESSAGE for n in spec[2])):
            raise ProtocolError(f"an array is described as {str(spec)[:80]}: not [name, one of {ALLOWED}, shape]")
        size = math.prod(spec[2]) * np.dtype(spec[1]).itemsize
        total += size
        if total > MAX_MESSAGE:
            raise ProtocolError(f"the message's arrays exceed {MAX_MESSAGE} bytes")
        layout.append((spec[0], spec[1], tuple(spec[2]), size))
    if not all(isinstance(name, str) for name in header["none"]):
        raise ProtocolError("none lists something other than names")
    return header, layout


def unpack(layout, data: bytes) -> dict:
    """The arrays (writable copies) that follow a header, by name; the names of none as None."""
    arrays, at = {}, 0
    for name, dtype, shape, size in layout:
        arrays[name] = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize,
                                     offset=at).reshape(shape).copy()
        at += size
    return arrays


class Channel:
    """The grader's end: send and receive with a deadline (time.monotonic() seconds) on every byte."""

    def __init__(self, reading: int, writing: int):
        self.reading, self.writing = reading, writing
        os.set_blocking(writing, False)

    def send(self, message: bytes, deadline: float) -> None:
        view = memoryview(message)
        while view:
            _, ready, _ = select.select([], [self.writing], [], _left(deadline))
            if not ready:
                raise Late()
            try:
                view = view[os.write(self.writing, view[:2**16]):]
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise Gone() from None

    def receive(self, deadline: float) -> tuple[dict, dict]:
        (length,) = _LENGTH.unpack(self._exactly(_LENGTH.size, deadline))
        if length > MAX_HEADER:
            raise ProtocolError(f"a header of {length} bytes (at most {MAX_HEADER})")
        header, layout = parse_header(self._exactly(length, deadline))
        arrays = unpack(layout, self._exactly(sum(size for *_, size in layout), deadline))
        return header, {**arrays, **dict.fromkeys(header["none"])}

    def _exactly(self, count: int, deadline: float) -> bytes:
        chunks, left = [], count
        while left:
            ready, _, _ = select.select([self.reading], [], [], _left(deadline))
            if not ready:
                raise Late()
            chunk = os.read(self.reading, min(left, 2**20))
            if not chunk:
                raise Gone()
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise Late()
    return left


def read_blocking(fd: int) -> tuple[dict, dict] | None:
    """The worker's end: the next request, or None at the end of input."""
    first = _read_all(fd, _LENGTH.size)
    if first is None:
        return None
    (length,) = _LENGTH.unpack(first)
    header, layout = parse_header(_read_all(fd, length) or b"")
    arrays = unpack(layout, _read_all(fd, sum(size for *_, size in layout)) or b"")
    return header, {**arrays, **dict.fromkeys(header["none"])}


def _read_all(fd: int, count: int) -> bytes | None:
    chunks, left = [], count
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_blocking(fd: int, message: bytes) -> None:
    view = memoryview(message)
    while view:
        view = view[os.write(fd, view):]
