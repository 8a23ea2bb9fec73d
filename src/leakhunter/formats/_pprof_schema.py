"""profile.proto as descriptors built at import time (no protoc, no generated code).

Two message families share one wire format:
- ``full``: the schema as specified, used to encode and as the fallback decoder.
- ``fast``: identical except Sample.location_id / Sample.value are declared
  ``bytes``. Packed repeated varints and bytes share wire type 2, so upb hands
  each sample's packed payload over as one bytes object; numpy then decodes all
  of them at once. This is what makes decoding 250k-stack profiles cheap.
String fields are declared ``bytes`` everywhere so non-UTF-8 junk in a string
table is preserved (surrogateescape) instead of failing the whole parse.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["FAST_PROFILE", "FULL_PROFILE"]

_F = descriptor_pb2.FieldDescriptorProto
_U64, _I64, _BOOL, _BYTES, _MSG = (
    _F.TYPE_UINT64,
    _F.TYPE_INT64,
    _F.TYPE_BOOL,
    _F.TYPE_BYTES,
    _F.TYPE_MESSAGE,
)
_OPT, _REP = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED

# (message, [(field name, number, type, label, message type name)])
_MESSAGES: list[tuple[str, list[tuple[str, int, int, int, str]]]] = [
    ("ValueType", [("type", 1, _I64, _OPT, ""), ("unit", 2, _I64, _OPT, "")]),
    (
        "Label",
        [
            ("key", 1, _I64, _OPT, ""),
            ("str", 2, _I64, _OPT, ""),
            ("num", 3, _I64, _OPT, ""),
            ("num_unit", 4, _I64, _OPT, ""),
        ],
    ),
    (
        "Sample",
        [
            ("location_id", 1, _U64, _REP, ""),
            ("value", 2, _I64, _REP, ""),
            ("label", 3, _MSG, _REP, "Label"),
        ],
    ),
    (
        "Mapping",
        [
            ("id", 1, _U64, _OPT, ""),
            ("memory_start", 2, _U64, _OPT, ""),
            ("memory_limit", 3, _U64, _OPT, ""),
            ("file_offset", 4, _U64, _OPT, ""),
            ("filename", 5, _I64, _OPT, ""),
            ("build_id", 6, _I64, _OPT, ""),
            ("has_functions", 7, _BOOL, _OPT, ""),
            ("has_filenames", 8, _BOOL, _OPT, ""),
            ("has_line_numbers", 9, _BOOL, _OPT, ""),
            ("has_inline_frames", 10, _BOOL, _OPT, ""),
        ],
    ),
    (
        "Line",
        [
            ("function_id", 1, _U64, _OPT, ""),
            ("line", 2, _I64, _OPT, ""),
            ("column", 3, _I64, _OPT, ""),
        ],
    ),
    (
        "Location",
        [
            ("id", 1, _U64, _OPT, ""),
            ("mapping_id", 2, _U64, _OPT, ""),
            ("address", 3, _U64, _OPT, ""),
            ("line", 4, _MSG, _REP, "Line"),
            ("is_folded", 5, _BOOL, _OPT, ""),
        ],
    ),
    (
        "Function",
        [
            ("id", 1, _U64, _OPT, ""),
            ("name", 2, _I64, _OPT, ""),
            ("system_name", 3, _I64, _OPT, ""),
            ("filename", 4, _I64, _OPT, ""),
            ("start_line", 5, _I64, _OPT, ""),
        ],
    ),
    (
        "Profile",
        [
            ("sample_type", 1, _MSG, _REP, "ValueType"),
            ("sample", 2, _MSG, _REP, "Sample"),
            ("mapping", 3, _MSG, _REP, "Mapping"),
            ("location", 4, _MSG, _REP, "Location"),
            ("function", 5, _MSG, _REP, "Function"),
            ("string_table", 6, _BYTES, _REP, ""),
            ("drop_frames", 7, _I64, _OPT, ""),
            ("keep_frames", 8, _I64, _OPT, ""),
            ("time_nanos", 9, _I64, _OPT, ""),
            ("duration_nanos", 10, _I64, _OPT, ""),
            ("period_type", 11, _MSG, _OPT, "ValueType"),
            ("period", 12, _I64, _OPT, ""),
            ("comment", 13, _I64, _REP, ""),
            ("default_sample_type", 14, _I64, _OPT, ""),
            ("doc_url", 15, _I64, _OPT, ""),
        ],
    ),
]


def _build(package: str, fast: bool) -> Any:
    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"leakhunter/{package}.proto", package=package, syntax="proto3"
    )
    for msg_name, fields in _MESSAGES:
        msg = fdp.message_type.add(name=msg_name)
        for name, number, ftype, label, type_name in fields:
            if fast and msg_name == "Sample" and name in ("location_id", "value"):
                ftype, label = _BYTES, _OPT
            f = msg.field.add(name=name, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".{package}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.Profile"))


FULL_PROFILE: Any = _build("leakhunter_pprof_full", fast=False)
FAST_PROFILE: Any = _build("leakhunter_pprof_fast", fast=True)
