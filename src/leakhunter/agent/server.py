"""Serving the agent: a background HTTP server thread, an ASGI app and a WSGI app.

All three answer through one ``AgentCore``. The ASGI app handles requests on a
worker thread (a census or a tracemalloc window must not stall the event loop)
and registers the loop it runs on so its tasks are listed.
"""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from types import TracebackType
from typing import Any

from leakhunter.agent.core import AgentCore, Response
from leakhunter.agent.routines import AGENT_THREAD_PREFIX

__all__ = ["Agent", "asgi_app", "wsgi_app"]

_TEXT = "text/plain; charset=utf-8"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
_REASONS |= {431: "Request Header Fields Too Large", 500: "Internal Server Error"}
_MAX_LINE = 8192
_MAX_HEADERS = 100


class _Handler(socketserver.StreamRequestHandler):
    """A small HTTP/1.1 GET handler with keep-alive: all the agent's endpoints need.

    ``http.server`` would do, but it imports ``http.client`` and ``email`` into the
    application: ~3,400 objects its garbage collector then walks for good.
    """

    server: _Server
    timeout = 120  # an idle keep-alive connection is closed after two minutes

    def handle(self) -> None:
        try:
            while self._one():
                pass
        except (OSError, UnicodeDecodeError):  # reset, timed out, garbage: drop the connection
            return

    def _one(self) -> bool:
        """Answer one request; return True to keep the connection for the next one."""
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/") or len(line) > _MAX_LINE:
            self._send(Response(400, _TEXT, b"bad request\n"), False, close=True)
            return False
        method, target, version = parts
        keep = version != "HTTP/1.0"
        body_follows = False
        for _ in range(_MAX_HEADERS):
            header = self.rfile.readline(_MAX_LINE + 1)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "connection":
                keep = value == "keep-alive" or (keep and value != "close")
            elif name in ("content-length", "transfer-encoding") and value not in ("", "0"):
                body_follows = True  # never read: the connection is closed after the answer
        else:
            self._send(Response(431, _TEXT, b"too many headers\n"), False, close=True)
            return False
        if method not in ("GET", "HEAD"):
            self._send(Response(405, _TEXT, b"GET only\n"), False, close=True)
            return False
        path, _, query = target.partition("?")
        keep = keep and not body_follows
        self._send(self.server.core.handle(path, query), method == "HEAD", close=not keep)
        return keep

    def _send(self, reply: Response, head: bool, *, close: bool) -> None:
        reason = _REASONS.get(reply.status, "")
        lines = [
            f"HTTP/1.1 {reply.status} {reason}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            f"Connection: {'close' if close else 'keep-alive'}",
        ]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(data if head else data + reply.body)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], core: AgentCore) -> None:
        self.core = core
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve each connection on a named thread the goroutine listing leaves out."""
        t = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{AGENT_THREAD_PREFIX}-request",
            daemon=True,
        )
        t.start()


class Agent:
    """A running agent: ``port``, ``url``, ``core``; ``stop()`` or use as a context manager.

    ``port=None`` serves nothing (``port`` is then 0): a self-watching agent in a
    process nobody can reach.
    """

    def __init__(self, core: AgentCore, host: str = "127.0.0.1", port: int | None = 0) -> None:
        self.core = core
        self.host = host
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        if port is None:
            return
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        _Server.address_family = family
        self._server = _Server((host, port), core)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.2,),
            name=f"{AGENT_THREAD_PREFIX}-server",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Return the base URL to give ``leakhunter watch``."""
        return f"http://{self.host}:{self.port}"

    def add_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """List this loop's tasks too."""
        self.core.add_loop(loop)

    def stop(self) -> None:
        """Stop serving (and self-watching), and release tracemalloc if the agent started it."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
        self.core.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _endpoint(mount: str, path: str) -> str:
    """Return the agent endpoint a request names, wherever the app is mounted.

    ASGI servers and frameworks disagree on whether ``path`` still holds the mount
    prefix (``root_path``); WSGI's ``PATH_INFO`` never does. The full path is the
    prefix plus the rest, once; the endpoint is its last ``/debug/...`` part, so a
    mount at ``/debug`` serves ``/debug/pprof/heap`` and one at ``/ops``,
    ``/ops/debug/pprof/heap``.
    """
    full = path if mount and path.startswith(mount) else mount + path
    cut = full.rfind("/debug/")
    return full[cut:] if cut >= 0 else full


def asgi_app(core: AgentCore | None = None) -> ASGIApp:
    """Return an ASGI app serving the agent's endpoints (mounted at ``/``, ``/debug`` or a prefix).

    Mounted at ``/debug`` it answers ``/debug/pprof/heap``; at ``/ops``,
    ``/ops/debug/pprof/heap`` (``leakhunter watch http://host/ops``).
    """
    agent = core or AgentCore()

    async def app(
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        loop = asyncio.get_running_loop()
        agent.add_loop(loop)
        path = _endpoint(str(scope.get("root_path", "")), str(scope["path"]))
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        reply: Response = await loop.run_in_executor(None, agent.handle, path, query)
        headers = [
            (b"content-type", reply.content_type.encode()),
            (b"content-length", str(len(reply.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    return app


def wsgi_app(core: AgentCore | None = None) -> WSGIApp:
    """Return a WSGI app serving the agent's endpoints (e.g. under Flask's DispatcherMiddleware)."""
    agent = core or AgentCore()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = _endpoint(str(environ.get("SCRIPT_NAME", "")), str(environ.get("PATH_INFO", "")))
        reply = agent.handle(path, str(environ.get("QUERY_STRING", "")))
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(reply.status, "")
        start_response(
            f"{reply.status} {reason}",
            [("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body)))],
        )
        return [reply.body]

    return app
