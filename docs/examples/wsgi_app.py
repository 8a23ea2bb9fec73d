"""The agent beside a WSGI app (Flask, Django...): a dispatcher sends /debug/ to it.

    python docs/examples/wsgi_app.py                   # serves on 127.0.0.1:8001
    leakhunter watch http://127.0.0.1:8001 --snapshots 10 --interval 1s

With Flask, werkzeug's DispatcherMiddleware does the same:
``app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/debug": leakhunter.agent.wsgi_app()})``.
Under a pre-forking server (gunicorn, uwsgi) each worker is its own process:
scrape each one (an agent per worker on its own port, ``leakhunter.agent.start``)
or let each judge itself (``start(port=None, self_watch=True)``), since a scrape
through the shared port reaches a different worker each time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import make_server

import leakhunter.agent

agent_app = leakhunter.agent.wsgi_app()


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\n"]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = str(environ.get("PATH_INFO", ""))
    return (agent_app if path.startswith("/debug/") else hello)(environ, start_response)


if __name__ == "__main__":
    with make_server("127.0.0.1", 8001, app) as server:
        print("serving on http://127.0.0.1:8001", flush=True)
        server.serve_forever()
