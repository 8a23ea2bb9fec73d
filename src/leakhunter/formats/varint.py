"""Vectorised protobuf varint decoding and encoding over whole buffers (numpy).

Decoding every sample's packed location ids one Python call at a time costs
microseconds per sample; doing it for all samples in one numpy pass costs
nanoseconds per byte. Negative int64 values are 10-byte two's-complement varints
and come out right through uint64 wrap-around.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "VarintError",
    "decode_segments",
    "decode_varints",
    "encode_varints",
    "read_varints_at",
]

_U8 = npt.NDArray[np.uint8]
_U64 = npt.NDArray[np.uint64]


class VarintError(ValueError):
    """A packed varint field is malformed (truncated or over 10 bytes)."""


def decode_varints(buf: bytes) -> tuple[_U64, npt.NDArray[np.int64]]:
    """Decode concatenated varints.

    Returns:
        The values, and for every byte the running count of varints completed up
        to and including it (callers use it to count varints per sub-buffer).

    Raises:
        VarintError: the buffer ends inside a varint, or a varint is too long.
    """
    b = np.frombuffer(buf, dtype=np.uint8)
    if b.size == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    ends = b < 0x80
    if not ends[-1]:
        raise VarintError("truncated varint")
    done = np.cumsum(ends, dtype=np.int64)
    if ends.all():  # every varint is one byte: the common case for location ids
        return b.astype(np.uint64), done
    starts = np.empty(int(done[-1]), dtype=np.int64)
    starts[0] = 0
    end_pos = np.flatnonzero(ends)
    starts[1:] = end_pos[:-1] + 1
    lengths = end_pos - starts + 1
    if int(lengths.max()) > 10:
        raise VarintError("varint longer than 10 bytes")
    # position of each byte inside its varint
    term = done - ends  # index of the varint each byte belongs to
    pos = np.arange(b.size, dtype=np.int64) - starts[term]
    parts = (b & 0x7F).astype(np.uint64) << (7 * pos).astype(np.uint64)
    return np.add.reduceat(parts, starts), done


def decode_segments(
    buf: bytes, offs: npt.NDArray[np.int64], *, narrow: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.unsignedinteger[Any]]]:
    """Decode consecutive segments of packed varints (segment i is buf[offs[i]:offs[i+1]]).

    With ``narrow`` the values come in the narrowest unsigned dtype their
    varints' lengths allow (uint8 when every varint is one byte: then they are
    a read-only view of buf itself), else as uint64.

    Returns:
        CSR offsets of each segment's values, and all the values.

    Raises:
        VarintError: a varint is truncated (also at a segment's end) or too long.
    """
    n = len(offs) - 1
    b = np.frombuffer(buf, dtype=np.uint8)
    out = np.zeros(n + 1, dtype=np.int64)
    if b.size == 0:
        return out, np.zeros(0, dtype=np.uint8 if narrow else np.uint64)
    if b[-1] >= 0x80:
        raise VarintError("truncated varint")
    lens = np.diff(offs)
    nonempty = lens > 0
    if (b[offs[1:][nonempty] - 1] >= 0x80).any():
        raise VarintError("truncated varint")  # it would run into the next segment
    # Work from the continuation bytes (few: most ids and counts are one byte):
    # every other byte ends a varint, so nothing is allocated per byte but a mask.
    cont = np.flatnonzero(b >= 0x80)
    conts_before = np.searchsorted(cont, offs)
    np.cumsum(lens - np.diff(conts_before), out=out[1:])
    if cont.size == 0:  # every varint is one byte: the common case for location ids
        return out, (b if narrow else b.astype(np.uint64))
    owner = cont - np.arange(cont.size)  # index of the varint each continuation byte is in
    fresh = np.ones(cont.size, dtype=bool)
    fresh[1:] = owner[1:] != owner[:-1]
    run_start = np.flatnonzero(fresh)
    run_len = np.diff(np.append(run_start, cont.size))
    longest = int(run_len.max())  # continuation bytes of the longest varint
    if longest > 9:
        raise VarintError("varint longer than 10 bytes")
    bits = 7 * (longest + 1)
    dtype: np.dtype[Any] = np.dtype(np.uint64)
    if narrow:
        dtype = np.dtype(np.uint16 if bits <= 16 else np.uint32 if bits <= 32 else np.uint64)
    values = b[b < 0x80].astype(dtype)  # the last (most significant) byte of each
    within = np.arange(cont.size) - np.repeat(run_start, run_len)
    low = (b[cont] & 0x7F).astype(dtype) << (7 * within).astype(dtype)
    which = owner[run_start]
    values[which] = (values[which] << (7 * run_len).astype(dtype)) | np.add.reduceat(low, run_start)
    return out, values


def encode_varints(values: npt.NDArray[np.uint64]) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Encode values as concatenated varints.

    Returns:
        The bytes, and the byte offset where each value ends (exclusive).
    """
    v = np.ascontiguousarray(values, dtype=np.uint64)
    if v.size == 0:
        return b"", np.zeros(0, np.int64)
    nbytes = np.ones(v.size, dtype=np.int64)
    rest = v >> np.uint64(7)
    while rest.any():
        more = rest != 0
        nbytes += more
        rest >>= np.uint64(7)
    ends = np.cumsum(nbytes)
    total = int(ends[-1])
    owner = np.repeat(np.arange(v.size), nbytes)
    pos = np.arange(total, dtype=np.int64) - (ends - nbytes)[owner]
    out = ((v[owner] >> (7 * pos).astype(np.uint64)) & np.uint64(0x7F)).astype(np.uint8)
    out[pos < nbytes[owner] - 1] |= 0x80
    return out.tobytes(), ends


def read_varints_at(
    buf: _U8, pos: npt.NDArray[np.int64], limit: npt.NDArray[np.int64]
) -> tuple[_U64, npt.NDArray[np.int64]]:
    """Read one varint at each of many positions of buf at once.

    Args:
        buf: the bytes.
        pos: where each varint starts.
        limit: for each varint, the end (exclusive) of the message it lies in.

    Returns:
        The values, and the position just past each varint.

    Raises:
        VarintError: a varint runs past its limit or is longer than 10 bytes.
    """
    if pos.size == 0:
        return np.zeros(0, dtype=np.uint64), pos.copy()
    if int(pos.min()) < 0 or (pos >= limit).any():
        raise VarintError("truncated varint")
    byte = buf[pos]
    if int(byte.max()) < 0x80:  # all one byte long: the usual tags and lengths
        return byte.astype(np.uint64), pos + 1
    value = (byte & 0x7F).astype(np.uint64)
    p = pos + 1
    going = np.flatnonzero(byte >= 0x80)  # varints not yet terminated
    for shift in range(7, 70, 7):
        at = p[going]
        if (at >= limit[going]).any():
            raise VarintError("truncated varint")
        byte = buf[at]
        value[going] |= (byte & 0x7F).astype(np.uint64) << np.uint64(shift)
        p[going] = at + 1
        going = going[byte >= 0x80]
        if going.size == 0:
            return value, p
    raise VarintError("varint longer than 10 bytes")
