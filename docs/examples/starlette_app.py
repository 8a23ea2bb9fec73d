"""The agent mounted in a Starlette app (FastAPI's ``app.mount`` is the same call).

    uvicorn --app-dir docs/examples starlette_app:app --port 8000
    leakhunter watch http://127.0.0.1:8000/ops --snapshots 10 --interval 1s

The agent's endpoints answer under the mount: /ops/debug/pprof/heap,
/ops/debug/vars... The lifespan hands the agent the server's event loop at
start-up, so every task the app creates from then on carries its creator (the
agent would otherwise learn the loop from its first scrape).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import leakhunter.agent

core = leakhunter.agent.AgentCore()


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    core.add_loop(asyncio.get_running_loop())
    yield
    core.close()


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


app = Starlette(
    routes=[Route("/", hello), Mount("/ops", app=leakhunter.agent.asgi_app(core))],
    lifespan=lifespan,
)
