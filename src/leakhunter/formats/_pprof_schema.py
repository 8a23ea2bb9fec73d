"""profile.proto as descriptors built at import time (no protoc, no generated code).

Two message families share one wire format:
- ``full``: the schema as specified, used to encode and as the fallback decoder.
- ``fast``: identical except ``Profile.sample`` is declared ``repeated bytes``.
  Messages and bytes share wire type 2, so upb hands every Sample over as its
  raw encoding without building 250k message objects; _pprof_samples then
  walks all of them at once with numpy.
String fields are declared ``bytes`` everywhere so non-UTF-8 junk in a string
table is preserved (surrogateescape) instead of failing the whole parse.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import message

__all__ = ["FAST_PROFILE", "FULL_LABEL_SET", "FULL_PROFILE"]

# FieldDescriptorProto enums (descriptor.proto), spelled out so that importing
# this module does not pay for importing descriptor_pb2 (~30 ms of startup).
_U64, _I64, _BOOL, _BYTES, _MSG = 4, 3, 8, 12, 11
_OPT, _REP = 1, 3

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


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _file_descriptor(package: str, fast: bool) -> bytes:
    """Serialise the FileDescriptorProto of one message family by hand."""
    out = _len_field(1, f"leakhunter/{package}.proto".encode()) + _len_field(2, package.encode())
    for msg_name, fields in _MESSAGES:
        msg = _len_field(1, msg_name.encode())
        for name, number, ftype, label, type_name in fields:
            if fast and msg_name == "Profile" and name == "sample":
                ftype, label, type_name = _BYTES, _REP, ""  # raw Sample messages
            field = (
                _len_field(1, name.encode())
                + _int_field(3, number)
                + _int_field(4, label)
                + _int_field(5, ftype)
            )
            if type_name:
                field += _len_field(6, f".{package}.{type_name}".encode())
            msg += _len_field(2, field)
        out += _len_field(4, msg)
    return out + _len_field(12, b"proto3")


def _build(package: str, fast: bool) -> tuple[Any, Any]:
    """Make the Profile and Sample classes of one family on the upb (C) backend.

    Straight through upb's own pool and metaclass, which is what protobuf's
    message_factory does on that backend, minus the import of
    google.protobuf.descriptor_pool: it drags in the pure-Python message
    implementation and text_format (~20 ms of every `leakhunter top`). Other
    backends go the public way.
    """
    serialized = _file_descriptor(package, fast)
    try:
        from google._upb import _message as upb
    except ImportError:  # pragma: no cover - protobuf without its C backend
        from google.protobuf import descriptor_pool, message_factory

        pool: Any = descriptor_pool.DescriptorPool()
        pool.AddSerializedFile(serialized)
        return tuple(  # type: ignore[return-value]
            message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
            for name in ("Profile", "Sample")
        )
    pool = upb.DescriptorPool()
    pool.AddSerializedFile(serialized)
    return tuple(  # type: ignore[return-value]
        upb.MessageMeta(
            name,
            (message.Message,),
            {"DESCRIPTOR": pool.FindMessageTypeByName(f"{package}.{name}"), "__module__": __name__},
        )
        for name in ("Profile", "Sample")
    )


#: The schema as specified (encoding, and canonicalising odd encodings).
FULL_PROFILE: Any
#: A Sample message, used to decode a sample's label fields on their own.
FULL_LABEL_SET: Any
FULL_PROFILE, FULL_LABEL_SET = _build("leakhunter_pprof_full", fast=False)
#: Profile.sample as repeated raw bytes, for the vectorised sample decoder.
FAST_PROFILE: Any = _build("leakhunter_pprof_fast", fast=True)[0]
