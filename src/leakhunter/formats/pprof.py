"""pprof protobuf reader and writer (gzip or raw), covering every field of profile.proto.

Decoding splits the work. The samples (nearly all of a big profile) are walked
by compiled code (_pprof_native, scan in _native.c): values decoded, stacks and
label sets interned on their raw bytes so each distinct one is decoded once;
the protobuf package (upb C backend) parses the small rest (strings, functions,
locations, mappings). Without the compiled kernels, upb hands every sample
over as raw bytes and _pprof_samples walks them all at once with numpy, to the
same result. Encoding is the mirror image: upb writes the tables, numpy writes
the sample section.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from leakhunter.errors import FormatError
from leakhunter.formats._pprof_native import NativeScan, native_scan
from leakhunter.formats._pprof_samples import (
    NeedsCanonical,
    SampleScan,
    build_sample_section,
    scan_samples,
)
from leakhunter.formats._pprof_schema import FAST_PROFILE, FULL_LABEL_SET, FULL_PROFILE
from leakhunter.formats.bounded_read import read_capped
from leakhunter.formats.limits import maybe_gunzip
from leakhunter.formats.varint import VarintError
from leakhunter.model.profile import (
    Function,
    Ids,
    Label,
    Line,
    Location,
    Mapping,
    Profile,
    Stacks,
    ValueType,
    adopt_i64,
    adopt_ids,
    all_known,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Scan", "decode", "encode", "missing_id", "parse_message", "read", "write"]

#: Every sample's stack, values and label set: compiled walk or numpy walk.
Scan = NativeScan | SampleScan


def read(path: str | Path, max_bytes: int | None = None, *, labels: bool = True) -> Profile:
    """Read a profile file (gzip or raw protobuf); see decode for ``labels``."""
    data = read_capped(os.fspath(path), max_bytes)  # also a FIFO, a device or "-"
    return decode(data, source=str(path), max_bytes=max_bytes, labels=labels)


def write(profile: Profile, path: str | Path) -> None:
    """Write a profile as gzipped protobuf, the way Go serves them."""
    with open(os.fspath(path), "wb") as fh:
        fh.write(encode(profile))


def decode(
    data: bytes, *, source: str = "<bytes>", max_bytes: int | None = None, labels: bool = True
) -> Profile:
    """Decode a pprof profile from gzip or raw protobuf bytes.

    ``labels=False`` leaves sample labels out of the result (each distinct
    label set is still decoded and checked): reports that never look at them,
    like top, skip building a label tuple per sample.

    Raises:
        FormatError: empty, truncated, corrupt or oversized input, or a profile
            whose internal references are inconsistent.
    """
    msg, scan = parse_message(data, source, max_bytes)
    return _Decoder(msg, source).profile(scan, labels=labels)


def parse_message(data: bytes, source: str, max_bytes: int | None) -> tuple[Any, Scan]:
    """Return the profile message without its samples, and the samples' scan.

    The part every decoder shares (``decode``, and the lazy view analysis reads):
    gunzip within the cap, the compiled (or numpy) walk of the samples, upb for
    the rest, and the checks that make it a profile.
    """
    if not data:
        raise FormatError(source, "empty file")
    raw = maybe_gunzip(data, source, max_bytes)
    try:
        fast = native_scan(raw)
    except VarintError as exc:
        whole = _parse(FAST_PROFILE, raw, source)  # a non-profile says so first
        _check_profile(whole, source, len(whole.sample))
        raise FormatError(source, f"corrupt sample ({exc})") from None
    msg = _parse(FAST_PROFILE, raw if fast is None else fast.rest, source)
    if fast is not None and len(msg.sample_type) != fast.num_types:
        fast, msg = None, _parse(FAST_PROFILE, raw, source)  # upb counted otherwise: follow it
    _check_profile(msg, source, len(msg.sample) if fast is None else len(fast))
    try:
        scan: Scan = _numpy_scan(msg, raw, source) if fast is None else fast
    except (VarintError, NeedsCanonical) as exc:
        raise FormatError(source, f"corrupt sample ({exc or 'unexpected encoding'})") from None
    return msg, scan


def _check_profile(msg: Any, source: str, samples: int) -> None:
    """Reject what is protobuf but no profile, and samples without sample types."""
    if not msg.sample_type and not samples and not msg.string_table:
        raise FormatError(source, "not a pprof profile (no sample types, samples or strings)")
    if samples and not msg.sample_type:
        raise FormatError(source, "the profile has samples but no sample types")


def _numpy_scan(msg: Any, raw: bytes, source: str) -> SampleScan:
    """Walk the samples upb handed over as bytes, with numpy (no compiled walk here)."""
    try:
        return scan_samples(msg.sample)
    except NeedsCanonical:
        # Legal encodings no pprof writer emits (unpacked or split repeated
        # fields): upb re-serialises them canonically through the full schema.
        msg = _parse(FAST_PROFILE, _parse(FULL_PROFILE, raw, source).SerializeToString(), source)
        return scan_samples(msg.sample)


def _parse(cls: Any, raw: bytes, source: str) -> Any:
    msg = cls()
    try:
        msg.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise FormatError(source, f"not a pprof protobuf profile ({_reason(exc)})") from None
    return msg


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "truncated" in text.lower():
        return "truncated data"
    return "corrupt wire format"


class _Decoder:
    """One decode: string table lookups with range checks, then every section."""

    def __init__(self, msg: Any, source: str) -> None:
        self.msg = msg
        self.source = source
        self.strings = [s.decode("utf-8", "surrogateescape") for s in msg.string_table]
        if self.strings and self.strings[0] != "":
            raise FormatError(source, "string table does not start with the empty string")
        if not self.strings:
            self.strings = [""]

    def fail(self, problem: str) -> FormatError:
        return FormatError(self.source, problem)

    def s(self, index: int, what: str) -> str:
        if 0 <= index < len(self.strings):
            text: str = self.strings[index]
            return text
        raise self.fail(f"{what} refers to string {index}, the table has {len(self.strings)}")

    def vt(self, m: Any) -> ValueType:
        return ValueType(self.s(m.type, "value type"), self.s(m.unit, "value type"))

    def profile(self, scan: Scan, *, labels: bool) -> Profile:
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
        stacks, sample_stack, values = self.samples(scan, len(sample_types), locations)
        return Profile(
            sample_types=sample_types,
            stacks=stacks,
            sample_stack=sample_stack,
            values=values,
            sample_labels=self.labels(scan, keep=labels),
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
        """Reject what pprof's CheckValid rejects: id 0, duplicate ids, dangling ids."""
        for what, ids in (
            ("function", [f.id for f in functions]),
            ("location", [loc.id for loc in locations]),
            ("mapping", [mp.id for mp in mappings]),
        ):
            if 0 in ids:
                raise self.fail(f"a {what} has the reserved id 0")
            if len(set(ids)) != len(ids):
                dup = next(i for i in ids if ids.count(i) > 1)
                raise self.fail(f"several {what}s have id {dup}")
        fids = {f.id for f in functions}
        mids = {mp.id for mp in mappings}
        for loc in locations:
            if loc.mapping_id and loc.mapping_id not in mids:
                raise self.fail(f"location {loc.id} refers to missing mapping {loc.mapping_id}")
            for ln in loc.lines:
                if ln.function_id not in fids:
                    raise self.fail(
                        f"location {loc.id} refers to missing function {ln.function_id}"
                    )

    def samples(
        self, scan: Scan, k: int, locations: tuple[Location, ...]
    ) -> tuple[Stacks, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        try:
            offsets, ids, stack_of = scan.stacks()
            values = scan.values(k)
        except VarintError as exc:
            raise self.fail(f"corrupt sample ({exc})") from None
        known = np.fromiter((loc.id for loc in locations), np.uint64, len(locations))
        missing = missing_id(ids, known)
        if missing is not None:
            raise self.fail(f"a sample refers to missing location {missing}")
        stacks = Stacks(offsets=adopt_i64(offsets), location_ids=adopt_ids(ids))
        return stacks, adopt_i64(stack_of), adopt_i64(values)

    def labels(self, scan: Scan, *, keep: bool) -> tuple[tuple[Label, ...], ...]:
        blobs, which = scan.label_sets()
        if blobs == [b""]:
            return ()
        table = [self.label_set(blob) for blob in blobs]  # validates every set
        return tuple(map(table.__getitem__, which.tolist())) if keep else ()

    def label_set(self, blob: bytes) -> tuple[Label, ...]:
        try:
            labels = FULL_LABEL_SET.FromString(blob).label
        except (DecodeError, RuntimeError, ValueError):
            raise self.fail("corrupt sample label") from None
        return tuple(
            Label(
                key=self.s(lb.key, "label"),
                str=self.s(lb.str, "label"),
                num=lb.num,
                num_unit=self.s(lb.num_unit, "label"),
            )
            for lb in labels
        )


def missing_id(ids: Ids, known: npt.NDArray[np.uint64]) -> int | None:
    """Return an id of ids that is not in known, or None (O(n) for dense ids)."""
    if ids.size == 0:
        return None
    if known.size == 0:
        return int(ids[0])
    top = int(known.max())
    if int(ids.max()) > top:
        return int(ids.max())
    if top <= 4 * known.size + (1 << 16):
        table = np.zeros(top + 1, dtype=bool)
        table[known] = True
        return all_known(table, ids)
    ok = np.isin(ids, known)
    return None if ok.all() else int(ids[np.argmin(ok)])


def encode(profile: Profile, *, compress: bool = True) -> bytes:
    """Encode a profile as protobuf, gzipped unless compress=False."""
    strings: dict[str, int] = {"": 0}

    def s(text: str) -> int:
        return strings.setdefault(text, len(strings))

    m = FULL_PROFILE()
    for vt in profile.sample_types:
        m.sample_type.add(type=s(vt.type), unit=s(vt.unit))
    blob, lab_start, lab_len = _encode_labels(profile, s)
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
    values = profile.values.reshape(profile.num_samples, len(profile.sample_types))
    # Fields may come in any order; samples go last, written by numpy.
    raw: bytes = m.SerializeToString() + build_sample_section(
        profile.stacks.offsets,
        profile.stacks.location_ids,
        profile.sample_stack,
        values,
        blob,
        lab_start,
        lab_len,
    )
    # BestSpeed, as Go's runtime/pprof writes them.
    if not compress:
        return raw
    import gzip  # only writers need it

    return gzip.compress(raw, compresslevel=1, mtime=0)


def _encode_labels(
    profile: Profile, s: Any
) -> tuple[bytes, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Encode each distinct label set once; return the blob and per-sample ranges."""
    n = profile.num_samples
    if not profile.sample_labels:
        zeros = np.zeros(n, dtype=np.int64)
        return b"", zeros, zeros
    # label tuples are usually shared objects (decode interns them): key by identity
    seen: dict[int, int] = {}
    parts: list[bytes] = []
    which = []
    for labels in profile.sample_labels:
        at = seen.get(id(labels))
        if at is None:
            msg = FULL_LABEL_SET()
            for lb in labels:
                msg.label.add(key=s(lb.key), str=s(lb.str), num=lb.num, num_unit=s(lb.num_unit))
            at = seen[id(labels)] = len(parts)
            parts.append(msg.SerializeToString())
        which.append(at)
    sizes = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    idx = np.asarray(which, dtype=np.int64)
    return b"".join(parts), starts[idx], sizes[idx]
