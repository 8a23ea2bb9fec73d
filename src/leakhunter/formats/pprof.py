"""pprof protobuf reader and writer (gzip or raw), covering every field of profile.proto.

Decoding uses the protobuf package (upb C backend) with a "fast" schema whose
Sample payloads arrive as raw packed bytes, decoded for all samples at once by
numpy (see _pprof_schema and varint). Identical stacks are interned on their raw
bytes before decoding, so each distinct stack is decoded exactly once.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from leakhunter.errors import FormatError
from leakhunter.formats._pprof_schema import FAST_PROFILE, FULL_PROFILE
from leakhunter.formats.limits import maybe_gunzip
from leakhunter.formats.varint import VarintError, decode_varints, encode_varints
from leakhunter.model.profile import (
    Function,
    Label,
    Line,
    Location,
    Mapping,
    Profile,
    Stacks,
    ValueType,
    frozen_i64,
    frozen_u64,
)

__all__ = ["decode", "encode", "read", "write"]


def read(path: str | Path, max_bytes: int | None = None) -> Profile:
    """Read a profile file (gzip or raw protobuf)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FormatError(str(path), exc.strerror or str(exc)) from None
    return decode(data, source=str(path), max_bytes=max_bytes)


def write(profile: Profile, path: str | Path) -> None:
    """Write a profile as gzipped protobuf, the way Go serves them."""
    Path(path).write_bytes(encode(profile))


def decode(data: bytes, *, source: str = "<bytes>", max_bytes: int | None = None) -> Profile:
    """Decode a pprof profile from gzip or raw protobuf bytes.

    Raises:
        FormatError: empty, truncated, corrupt or oversized input, or a profile
            whose internal references are inconsistent.
    """
    if not data:
        raise FormatError(source, "empty file")
    raw = maybe_gunzip(data, source, max_bytes)
    msg = FAST_PROFILE()
    try:
        msg.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise FormatError(source, f"not a pprof protobuf profile ({_reason(exc)})") from None
    if not msg.sample_type and not msg.sample and not msg.string_table:
        raise FormatError(source, "not a pprof profile (no sample types, samples or strings)")
    try:
        return _Decoder(msg, source, canonical=False).profile()
    except _NeedFullDecode:
        pass
    # Unpacked repeated fields (legal, but no pprof writer emits them) or empty
    # stacks: let upb canonicalise through the full schema (proto3 re-serialises
    # repeated scalars packed), then decode again.
    full = FULL_PROFILE()
    full.ParseFromString(raw)
    msg = FAST_PROFILE()
    msg.ParseFromString(full.SerializeToString())
    return _Decoder(msg, source, canonical=True).profile()


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "truncated" in text.lower():
        return "truncated data"
    return "corrupt wire format"


class _Decoder:
    """One decode: string table lookups with range checks, then every section."""

    def __init__(self, msg: Any, source: str, *, canonical: bool) -> None:
        self.msg = msg
        self.canonical = canonical
        self.source = source
        self.strings = [s.decode("utf-8", "surrogateescape") for s in msg.string_table]
        if self.strings and self.strings[0] != "":
            raise FormatError(source, "string table does not start with the empty string")
        if not self.strings:
            self.strings = [""]

    def s(self, index: int, what: str) -> str:
        if 0 <= index < len(self.strings):
            text: str = self.strings[index]
            return text
        raise FormatError(
            self.source, f"{what} refers to string {index}, table has {len(self.strings)}"
        )

    def vt(self, m: Any) -> ValueType:
        return ValueType(self.s(m.type, "value type"), self.s(m.unit, "value type"))

    def profile(self) -> Profile:
        m = self.msg
        sample_types = tuple(self.vt(v) for v in m.sample_type)
        functions = tuple(
            Function(
                id=f.id,
                name=self.s(f.name, "function"),
                system_name=self.s(f.system_name, "function"),
                filename=self.s(f.filename, "function"),
                start_line=f.start_line,
            )
            for f in m.function
        )
        locations = tuple(
            Location(
                id=loc.id,
                mapping_id=loc.mapping_id,
                address=loc.address,
                lines=tuple(Line(ln.function_id, ln.line, ln.column) for ln in loc.line),
                is_folded=loc.is_folded,
            )
            for loc in m.location
        )
        mappings = tuple(self.mapping(mp) for mp in m.mapping)
        self.check_references(functions, locations, mappings)
        stacks, sample_stack, values, labels = self.samples(len(sample_types), locations)
        return Profile(
            sample_types=sample_types,
            stacks=stacks,
            sample_stack=sample_stack,
            values=values,
            sample_labels=labels,
            mappings=mappings,
            locations=locations,
            functions=functions,
            drop_frames=self.s(m.drop_frames, "drop_frames"),
            keep_frames=self.s(m.keep_frames, "keep_frames"),
            time_nanos=m.time_nanos,
            duration_nanos=m.duration_nanos,
            period_type=self.vt(m.period_type) if m.HasField("period_type") else None,
            period=m.period,
            comments=tuple(self.s(c, "comment") for c in m.comment),
            default_sample_type=self.s(m.default_sample_type, "default_sample_type"),
            doc_url=self.s(m.doc_url, "doc_url"),
        )

    def mapping(self, mp: Any) -> Mapping:
        return Mapping(
            id=mp.id,
            memory_start=mp.memory_start,
            memory_limit=mp.memory_limit,
            file_offset=mp.file_offset,
            filename=self.s(mp.filename, "mapping"),
            build_id=self.s(mp.build_id, "mapping"),
            has_functions=mp.has_functions,
            has_filenames=mp.has_filenames,
            has_line_numbers=mp.has_line_numbers,
            has_inline_frames=mp.has_inline_frames,
        )

    def check_references(
        self,
        functions: tuple[Function, ...],
        locations: tuple[Location, ...],
        mappings: tuple[Mapping, ...],
    ) -> None:
        fids = {f.id for f in functions}
        mids = {mp.id for mp in mappings}
        for loc in locations:
            if loc.mapping_id and loc.mapping_id not in mids:
                raise FormatError(
                    self.source, f"location {loc.id} refers to missing mapping {loc.mapping_id}"
                )
            for ln in loc.lines:
                if ln.function_id not in fids:
                    raise FormatError(
                        self.source,
                        f"location {loc.id} refers to missing function {ln.function_id}",
                    )

    def samples(
        self, k: int, locations: tuple[Location, ...]
    ) -> tuple[Stacks, Any, Any, tuple[tuple[Label, ...], ...]]:
        ss = self.msg.sample
        n = len(ss)
        intern: dict[bytes, int] = {}
        stack_of = [intern.setdefault(s.location_id, len(intern)) for s in ss]
        keys = list(intern)
        try:
            loc_ids, loc_done = decode_varints(b"".join(keys))
            vals, val_done = decode_varints(b"".join([s.value for s in ss]))
        except VarintError as exc:
            raise FormatError(self.source, f"corrupt sample ({exc})") from None
        if not self.canonical and (any(not key for key in keys) or len(vals) != n * k):
            raise _NeedFullDecode
        offsets = _counts_to_offsets(keys, loc_done)
        if len(vals) and k and n:
            counts = np.diff(_counts_to_offsets([s.value for s in ss], val_done))
            if not (counts == k).all():
                raise FormatError(self.source, f"a sample does not have {k} values")
        if len(loc_ids):
            known = np.fromiter((loc.id for loc in locations), np.uint64, len(locations))
            if not np.isin(loc_ids, known).all():
                bad = loc_ids[~np.isin(loc_ids, known)][0]
                raise FormatError(self.source, f"a sample refers to missing location {bad}")
        labels: tuple[tuple[Label, ...], ...] = ()
        if any(len(s.label) for s in ss):
            labels = tuple(tuple(self.label(lb) for lb in s.label) for s in ss)
        stacks = Stacks(
            offsets=frozen_i64(offsets),
            location_ids=frozen_u64(loc_ids),
        )
        values = vals.view(np.int64).reshape(n, k) if k else np.zeros((n, 0), np.int64)
        return (
            stacks,
            frozen_i64(np.array(stack_of, dtype=np.int64)),
            frozen_i64(values),
            labels,
        )

    def label(self, lb: Any) -> Label:
        return Label(
            key=self.s(lb.key, "label"),
            str=self.s(lb.str, "label"),
            num=lb.num,
            num_unit=self.s(lb.num_unit, "label"),
        )


class _NeedFullDecode(Exception):
    pass


def _counts_to_offsets(chunks: list[bytes], done: Any) -> Any:
    """Turn per-chunk byte lengths into varint-count offsets (CSR)."""
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    if not chunks:
        return offsets
    byte_ends = np.cumsum(np.fromiter((len(c) for c in chunks), np.int64, len(chunks)))
    if len(done) == 0:
        return offsets
    nonempty = byte_ends > 0
    offsets[1:][nonempty] = done[byte_ends[nonempty] - 1]
    return offsets


def encode(profile: Profile, *, compress: bool = True) -> bytes:
    """Encode a profile as protobuf, gzipped unless compress=False."""
    strings: dict[str, int] = {"": 0}

    def s(text: str) -> int:
        return strings.setdefault(text, len(strings))

    m = FAST_PROFILE()
    for vt in profile.sample_types:
        m.sample_type.add(type=s(vt.type), unit=s(vt.unit))
    stack_bytes, _ = encode_varints(profile.stacks.location_ids)
    loc_byte_ends = _varint_byte_offsets(profile.stacks.location_ids, profile.stacks.offsets)
    per_stack = [
        stack_bytes[loc_byte_ends[i] : loc_byte_ends[i + 1]] for i in range(len(profile.stacks))
    ]
    k = len(profile.sample_types)
    flat_vals = np.ascontiguousarray(profile.values, dtype=np.int64).reshape(-1).view(np.uint64)
    val_bytes, val_ends = encode_varints(flat_vals)
    row_ends = [0, *val_ends[k - 1 :: k].tolist()] if k else [0] * (profile.num_samples + 1)
    for i, st in enumerate(profile.sample_stack.tolist()):
        sm = m.sample.add(location_id=per_stack[st], value=val_bytes[row_ends[i] : row_ends[i + 1]])
        if profile.sample_labels:
            for lb in profile.sample_labels[i]:
                sm.label.add(key=s(lb.key), str=s(lb.str), num=lb.num, num_unit=s(lb.num_unit))
    for mp in profile.mappings:
        m.mapping.add(
            id=mp.id,
            memory_start=mp.memory_start,
            memory_limit=mp.memory_limit,
            file_offset=mp.file_offset,
            filename=s(mp.filename),
            build_id=s(mp.build_id),
            has_functions=mp.has_functions,
            has_filenames=mp.has_filenames,
            has_line_numbers=mp.has_line_numbers,
            has_inline_frames=mp.has_inline_frames,
        )
    for loc in profile.locations:
        lm = m.location.add(
            id=loc.id, mapping_id=loc.mapping_id, address=loc.address, is_folded=loc.is_folded
        )
        for ln in loc.lines:
            lm.line.add(function_id=ln.function_id, line=ln.line, column=ln.column)
    for f in profile.functions:
        m.function.add(
            id=f.id,
            name=s(f.name),
            system_name=s(f.system_name),
            filename=s(f.filename),
            start_line=f.start_line,
        )
    m.drop_frames = s(profile.drop_frames)
    m.keep_frames = s(profile.keep_frames)
    m.time_nanos = profile.time_nanos
    m.duration_nanos = profile.duration_nanos
    if profile.period_type is not None:
        m.period_type.type = s(profile.period_type.type)
        m.period_type.unit = s(profile.period_type.unit)
    m.period = profile.period
    m.comment.extend(s(c) for c in profile.comments)
    m.default_sample_type = s(profile.default_sample_type)
    m.doc_url = s(profile.doc_url)
    m.string_table.extend(t.encode("utf-8", "surrogateescape") for t in strings)
    raw: bytes = m.SerializeToString()
    return gzip.compress(raw, compresslevel=6, mtime=0) if compress else raw


def _varint_byte_offsets(values: Any, offsets: Any) -> list[int]:
    """Byte offsets of CSR groups once ``values`` are varint-encoded back to back."""
    if len(values) == 0:
        return [0] * len(offsets)
    _, ends = encode_varints(values)
    ends = np.concatenate([[0], ends])
    return [int(x) for x in ends[offsets]]
