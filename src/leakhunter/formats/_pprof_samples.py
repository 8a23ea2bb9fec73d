"""Vectorised decoding and encoding of pprof Sample messages, all samples at once.

upb hands every Sample over as raw bytes (see _pprof_schema). Walking their
fields one sample at a time in Python costs microseconds per sample; here the
fields of all samples are walked in lock-step with numpy (one round per field,
usually three), packed location ids and values are decoded in one pass each,
and identical stacks and label sets are interned on their raw bytes so each
distinct one is decoded once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from leakhunter.formats.varint import (
    VarintError,
    decode_segments,
    encode_varints,
    read_varints_at,
)
from leakhunter.model.grouping import first_occurrence, groups, hash_rows, window_words
from leakhunter.model.profile import Ids, gather_segments, intern_segments

__all__ = ["NeedsCanonical", "SampleScan", "build_sample_section", "scan_samples"]

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]

_LOCATIONS, _VALUES, _LABELS = 1, 2, 3


class NeedsCanonical(Exception):  # noqa: N818 - a signal, not an error
    """A sample uses a legal but unusual encoding (unpacked or split fields)."""


@dataclass(frozen=True, slots=True)
class SampleScan:
    """Every sample's packed location ids, values and label fields, gathered.

    ``loc_bytes[loc_offs[i]:loc_offs[i+1]]`` is sample i's location ids as
    packed varints (unpacked and split fields joined, which is byte-identical),
    likewise ``val_*``. Labels are the [start, end) range in ``buf`` of the
    sample's label fields, tags included (a valid Sample encoding), -1 if none.
    ``buf`` ends with _PAD zero bytes past the last sample: a field the
    length-delimited pass must skip is pointed at them to read a zero length.
    """

    buf: bytes
    loc_bytes: bytes
    loc_offs: I64
    val_bytes: bytes
    val_offs: I64
    lab_start: I64
    lab_end: I64

    def __len__(self) -> int:
        return len(self.lab_start)

    def stacks(self) -> tuple[I64, Ids, I64]:
        """Intern and decode the stacks.

        Returns:
            CSR offsets and location ids of the distinct stacks (first-seen
            order), and each sample's stack index.
        """
        data, offs = self.loc_bytes, self.loc_offs
        reps, stack_of = intern_segments(data, offs)
        if len(reps) == len(self):
            return (*decode_segments(data, offs, narrow=True), stack_of)
        u8 = np.frombuffer(data, dtype=np.uint8)
        rep_bytes, rep_offs = _gather(u8, offs[reps], np.diff(offs)[reps])
        return (*decode_segments(rep_bytes.tobytes(), rep_offs, narrow=True), stack_of)

    def values(self, k: int) -> I64:
        """Decode the values into an (n, k) matrix.

        Raises:
            VarintError: a sample does not have exactly k values.
        """
        n = len(self)
        offsets, vals = decode_segments(self.val_bytes, self.val_offs)
        counts = np.diff(offsets)
        if (counts != k).any():
            bad = int(np.flatnonzero(counts != k)[0])
            raise VarintError(f"sample {bad} has {int(counts[bad])} values, expected {k}")
        return vals.view(np.int64).reshape(n, k)

    def label_sets(self) -> tuple[list[bytes], I64]:
        """Intern the samples' label fields.

        Returns:
            The distinct label encodings (b"" for no labels) and each sample's
            index into them.
        """
        has = self.lab_start >= 0
        if not has.any():
            return [b""], np.zeros(len(self), dtype=np.int64)
        lens = np.where(has, self.lab_end - self.lab_start, 0)
        starts = np.where(has, self.lab_start, 0)
        if int(lens.max()) <= 8 * _KEY_WORDS:
            keys = window_words(np.frombuffer(self.buf, np.uint8), starts, lens, _KEY_WORDS)
            back = first_occurrence(hash_rows(keys, lens))
            again = np.flatnonzero(back != np.arange(back.size))
            if (keys[back[again]] == keys[again]).all() and (
                lens[back[again]] == lens[again]
            ).all():
                reps, which = groups(back)
                ends = starts + lens
                return [
                    self.buf[a:b]
                    for a, b in zip(starts[reps].tolist(), ends[reps].tolist(), strict=True)
                ], which
        u8 = np.frombuffer(self.buf, dtype=np.uint8)
        data, offs = _gather(u8, starts, lens)
        raw = data.tobytes()
        reps, which = intern_segments(raw, offs)
        return [raw[offs[r] : offs[r + 1]] for r in reps.tolist()], which


#: Label sets up to 8 * _KEY_WORDS bytes (one or two Go labels) are keyed in place.
_KEY_WORDS = 2
_PAD = bytes(8)


def _gather(u8: U8, starts: I64, lens: I64) -> tuple[U8, I64]:
    """Concatenate byte segments of u8 (increasing, disjoint); also return CSR offsets."""
    offs = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lens, out=offs[1:])
    return gather_segments(u8, starts, lens), offs


def _scatter(who: I64, values: I64, n: int) -> I64:
    out = np.zeros(n, dtype=np.int64)
    out[who] = values
    return out


class _Pieces:
    """Byte ranges of one repeated varint field, in the order they were met."""

    def __init__(self) -> None:
        self.who: list[I64] = []
        self.start: list[I64] = []
        self.len: list[I64] = []

    def add(self, who: I64, start: I64, length: I64) -> None:
        self.who.append(who)
        self.start.append(start)
        self.len.append(length)

    def gather(self, u8: U8, n: int) -> tuple[bytes, I64]:
        """Join each sample's pieces; return the bytes and per-sample offsets."""
        offs = np.zeros(n + 1, dtype=np.int64)
        if not self.who:
            return b"", offs
        who, start, length = (np.concatenate(x) for x in (self.who, self.start, self.len))
        if np.bincount(who, minlength=n).max() <= 1:  # one piece per sample at most
            start, length = _scatter(who, start, n), _scatter(who, length, n)
            per_sample = length
        else:  # split fields: order pieces by sample, then by position
            order = np.argsort(who, kind="stable")
            who, start, length = who[order], start[order], length[order]
            per_sample = np.zeros(n, dtype=np.int64)
            np.add.at(per_sample, who, length)
        ends = start + length - 1
        if (u8[ends[length > 0]] >= 0x80).any():  # a varint would run into the next piece
            raise VarintError("truncated varint")
        data, _ = _gather(u8, start, length)
        np.cumsum(per_sample, out=offs[1:])
        return data.tobytes(), offs


def scan_samples(samples: Sequence[bytes]) -> SampleScan:
    """Find and gather the fields of every sample.

    Raises:
        VarintError: a sample's encoding is corrupt or truncated.
        NeedsCanonical: a sample's label fields are interleaved with other
            fields (legal, but no pprof writer does it).
    """
    samples = list(samples)  # upb containers make a new bytes object per access
    n = len(samples)
    buf = b"".join([*samples, _PAD])
    u8 = np.frombuffer(buf, dtype=np.uint8)
    lens = np.fromiter(map(len, samples), dtype=np.int64, count=n)
    ends = np.cumsum(lens)
    pos = ends - lens
    locs, vals, labs = _Pieces(), _Pieces(), _LabelSpans(n)
    active = np.flatnonzero(lens > 0)
    while active.size:  # one round per field: every sample's next field at once
        p, lim = pos[active], ends[active]
        tag, q = read_varints_at(u8, p, lim)
        field = tag >> np.uint64(3)
        if (field == 0).any():
            raise VarintError("invalid field tag")
        odd = np.flatnonzero((tag & np.uint64(7)) != 2)  # few: Go writes 1-2 ids unpacked
        if odd.size == 0:
            nxt = _delimited(u8, active, p, q, lim, field, locs, vals, labs)
        else:
            # Let the odd ones read a zero length from the padding and match no
            # field, so the length-delimited pass runs on whole arrays; then
            # settle them on their own.
            q2, lim2, field2 = q.copy(), lim.copy(), field.copy()
            q2[odd], lim2[odd], field2[odd] = u8.size - len(_PAD), u8.size, 0
            nxt = _delimited(u8, active, p, q2, lim2, field2, locs, vals, labs)
            nxt[odd] = _scalar(u8, active[odd], q[odd], lim[odd], tag[odd], locs, vals)
        pos[active] = nxt
        active = active[nxt < lim]
    if labs.interleaved():
        raise NeedsCanonical  # label fields interleaved with others
    loc_bytes, loc_offs = locs.gather(u8, n)
    val_bytes, val_offs = vals.gather(u8, n)
    return SampleScan(buf, loc_bytes, loc_offs, val_bytes, val_offs, labs.start, labs.end)


class _LabelSpans:
    """Where each sample's label fields start and end, and how many bytes they hold."""

    def __init__(self, n: int) -> None:
        self.start = np.full(n, -1, np.int64)
        self.end = np.full(n, -1, np.int64)
        self.size = np.zeros(n, np.int64)

    def add(self, who: I64, field_start: I64, field_end: I64) -> None:
        fresh = self.start[who] < 0
        self.start[who[fresh]] = field_start[fresh]
        self.end[who] = field_end
        self.size[who] += field_end - field_start

    def interleaved(self) -> bool:
        """True if some sample has other fields between its label fields."""
        return bool(((self.start >= 0) & (self.end - self.start != self.size)).any())


def _delimited(
    u8: U8,
    who: I64,
    p: I64,
    q: I64,
    lim: I64,
    field: U64,
    locs: _Pieces,
    vals: _Pieces,
    labs: _LabelSpans,
) -> I64:
    """Record length-delimited fields (tag at p, length at q); return where each ends."""
    length, d = read_varints_at(u8, q, lim)
    if (length > (lim - d).astype(np.uint64)).any():
        raise VarintError("truncated field")
    e = d + length.astype(np.int64)
    for number, pieces in ((_LOCATIONS, locs), (_VALUES, vals)):
        sel = field == number
        if sel.all():
            pieces.add(who, d, e - d)
        elif sel.any():
            pieces.add(who[sel], d[sel], e[sel] - d[sel])
    sel = field == _LABELS
    if sel.any():
        labs.add(who[sel], p[sel], e[sel])
    return e


def _scalar(u8: U8, who: I64, q: I64, lim: I64, tag: U64, locs: _Pieces, vals: _Pieces) -> I64:
    """Record fields that are not length-delimited (payload at q); return where each ends."""
    wt, field = (tag & np.uint64(7)).astype(np.int64), tag >> np.uint64(3)
    if ((wt != 0) & (wt != 1) & (wt != 5)).any():
        raise VarintError("invalid field tag")
    nxt = np.where(wt == 1, q + 8, q + 4)
    m0 = np.flatnonzero(wt == 0)
    if m0.size:
        nxt[m0] = read_varints_at(u8, q[m0], lim[m0])[1]
        for number, pieces in ((_LOCATIONS, locs), (_VALUES, vals)):
            sel = m0[field[m0] == number]  # unpacked: the varint alone is a packed piece
            if sel.size:
                pieces.add(who[sel], q[sel], nxt[sel] - q[sel])
    if (nxt > lim).any():
        raise VarintError("truncated field")
    return nxt


def build_sample_section(
    stack_offsets: I64,
    location_ids: U64,
    sample_stack: I64,
    values: I64,
    label_blob: bytes,
    label_start: I64,
    label_len: I64,
) -> bytes:
    """Encode every sample as a top-level Profile.sample field, back to back.

    Each sample is ``0x12 len [0x0a len ids] [0x12 len values] [labels]``, with
    empty packed fields omitted as proto3 does. ``label_blob[label_start[i]:
    label_start[i] + label_len[i]]`` holds sample i's encoded label fields.
    """
    n = len(sample_stack)
    if n == 0:
        return b""
    id_bytes, id_ends = encode_varints(location_ids)
    byte_at = np.concatenate([[0], id_ends]).astype(np.int64) if id_ends.size else None
    stack_bytes = byte_at[stack_offsets] if byte_at is not None else np.zeros_like(stack_offsets)
    loc_start = stack_bytes[:-1][sample_stack]
    loc_len = np.diff(stack_bytes)[sample_stack]
    k = values.shape[1] if values.ndim == 2 else 0
    flat = np.ascontiguousarray(values, dtype=np.int64).reshape(-1).view(np.uint64)
    val_bytes, val_ends = encode_varints(flat)
    if k:
        row_end = val_ends[k - 1 :: k]
        val_start = np.concatenate([[0], row_end[:-1]]).astype(np.int64)
        val_len = row_end - val_start
    else:
        val_start = val_len = np.zeros(n, dtype=np.int64)
    loc_hdr, loc_hdr_len = _headers(loc_len)
    val_hdr, val_hdr_len = _headers(val_len)
    body = (
        (loc_len > 0) * (1 + loc_hdr_len)
        + loc_len
        + (val_len > 0) * (1 + val_hdr_len)
        + val_len
        + label_len
    )
    top_hdr, top_hdr_len = _headers(body)
    # segment sources, concatenated: constant tags, headers, payloads, labels
    sources = [b"\x12\x0a", top_hdr.bytes, loc_hdr.bytes, id_bytes, val_hdr.bytes, val_bytes]
    sources.append(label_blob)
    base = np.cumsum([0, *(len(s) for s in sources)])
    one = np.ones(n, dtype=np.int64)
    has_loc, has_val = (loc_len > 0).astype(np.int64), (val_len > 0).astype(np.int64)
    seg_start = np.stack(
        [
            np.full(n, base[0]),
            base[1] + top_hdr.start,
            np.full(n, base[0] + 1),
            base[2] + loc_hdr.start,
            base[3] + loc_start,
            np.full(n, base[0]),
            base[4] + val_hdr.start,
            base[5] + val_start,
            base[6] + label_start,
        ],
        axis=1,
    )
    seg_len = np.stack(
        [
            one,
            top_hdr_len,
            has_loc,
            loc_hdr_len * has_loc,
            loc_len,
            has_val,
            val_hdr_len * has_val,
            val_len,
            label_len,
        ],
        axis=1,
    )
    source = np.frombuffer(b"".join(sources), dtype=np.uint8)
    lens = seg_len.reshape(-1)
    offs = np.cumsum(lens) - lens
    idx = np.repeat(seg_start.reshape(-1) - offs, lens)
    idx += np.arange(idx.size, dtype=np.int64)
    out: bytes = source[idx].tobytes()
    return out


@dataclass(frozen=True, slots=True)
class _Encoded:
    bytes: bytes
    start: I64


def _headers(values: I64) -> tuple[_Encoded, I64]:
    """Varint-encode lengths; return the bytes with each one's start, and sizes."""
    data, ends = encode_varints(values.astype(np.uint64))
    sizes = np.diff(np.concatenate([[0], ends])).astype(np.int64)
    return _Encoded(data, (ends - sizes).astype(np.int64)), sizes
