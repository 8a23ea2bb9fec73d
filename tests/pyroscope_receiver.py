"""A stand-in for Grafana Pyroscope's push endpoint: decodes what it is sent, as documented.

No Pyroscope server can run here, so the tests check the request against the
documented format: ``push.v1.PushRequest`` (api/push/v1/push.proto and
api/types/v1/types.proto in github.com/grafana/pyroscope), rebuilt below as
descriptors for the protobuf library, independently of leakhunter's encoder.
``Receiver`` listens on 127.0.0.1, answers a scripted list of statuses first
(503, 429, 400...), then 200 with an empty ``PushResponse``; it keeps every
request (path, headers, decoded series).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PUSH_PATH = "/push.v1.PusherService/Push"


def _message(
    file: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple[str, int, int, str]]
) -> None:
    msg = file.message_type.add(name=name)
    for fname, number, ftype, type_name in fields:
        f = msg.field.add(name=fname, number=number, type=ftype)
        f.label = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
        if type_name:
            f.label = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
            f.type_name = type_name


@cache
def push_request_class() -> Any:
    """Return the PushRequest message class, built from the documented .proto files."""
    fd = descriptor_pb2.FieldDescriptorProto
    types = descriptor_pb2.FileDescriptorProto(
        name="types/v1/types.proto", package="types.v1", syntax="proto3"
    )
    _message(
        types, "LabelPair", [("name", 1, fd.TYPE_STRING, ""), ("value", 2, fd.TYPE_STRING, "")]
    )
    push = descriptor_pb2.FileDescriptorProto(
        name="push/v1/push.proto", package="push.v1", syntax="proto3"
    )
    push.dependency.append("types/v1/types.proto")
    _message(push, "PushRequest", [("series", 1, fd.TYPE_MESSAGE, ".push.v1.RawProfileSeries")])
    _message(
        push,
        "RawProfileSeries",
        [
            ("labels", 1, fd.TYPE_MESSAGE, ".types.v1.LabelPair"),
            ("samples", 2, fd.TYPE_MESSAGE, ".push.v1.RawSample"),
        ],
    )
    _message(
        push, "RawSample", [("raw_profile", 1, fd.TYPE_BYTES, ""), ("ID", 2, fd.TYPE_STRING, "")]
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(types)
    pool.Add(push)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("push.v1.PushRequest"))


@dataclass
class Pushed:
    """One series as received: its labels and its samples' (raw_profile, ID)."""

    labels: dict[str, str]
    samples: list[tuple[bytes, str]]


def decode_push(body: bytes) -> list[Pushed]:
    """Decode a PushRequest body into its series (DecodeError on anything else)."""
    req = push_request_class()()
    req.ParseFromString(body)
    return [
        Pushed({p.name: p.value for p in s.labels}, [(x.raw_profile, x.ID) for x in s.samples])
        for s in req.series
    ]


@dataclass
class Request:
    """A request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """Answers ``script`` statuses first, then 200; ``hold`` (when set) blocks each answer."""

    script: list[int] = field(default_factory=list)
    hold: threading.Event | None = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if outer.hold is not None:
                    outer.hold.wait(30)
                status = outer.script.pop(0) if outer.script else 200
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append(Request(self.path, headers, body, status))
                reply = b"" if status == 200 else b'{"code":"unavailable","message":"try\\nlater"}'
                self.send_response(status)
                self.send_header(
                    "Content-Type", "application/proto" if status == 200 else "application/json"
                )
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[Pushed]:
        """Return every series of every request answered 200."""
        return [p for r in self.requests if r.status == 200 for p in decode_push(r.body)]

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
