"""Shared scaffolding of the Python zoo: flags (as the Go zoo takes them), agent, load loop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import leakhunter.agent


@dataclass(frozen=True)
class Flags:
    host: str
    port: int
    duration: float
    linger: float
    rate: float
    scale: float
    memlimit: int = 0


def _seconds(text: str) -> float:
    text = text.strip()
    for suffix, mult in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * mult
    return float(text)


def parse_flags(default_rate: float) -> Flags:
    ap = argparse.ArgumentParser()
    ap.add_argument("-addr", default="127.0.0.1:0")
    ap.add_argument("-duration", default="60s")
    ap.add_argument("-linger", default="600s")
    ap.add_argument("-rate", type=float, default=default_rate)
    ap.add_argument("-scale", type=float, default=1.0)
    ap.add_argument("-memlimit", type=int, default=0)
    args, _ = ap.parse_known_args()
    host, _, port = args.addr.rpartition(":")
    return Flags(
        host or "127.0.0.1",
        int(port or 0),
        _seconds(args.duration),
        _seconds(args.linger),
        args.rate,
        args.scale,
        args.memlimit,
    )


async def drive(
    rate: float,
    duration: float,
    op: Callable[[int], Awaitable[None]],
    *,
    concurrent: bool = False,
) -> None:
    """Call ``op(i)`` about ``rate`` times a second for ``duration`` seconds (paced, not bursty).

    With ``concurrent`` each call runs as its own task, so slow calls don't lower the rate.
    """
    start = time.monotonic()
    running: set[asyncio.Task[None]] = set()
    i = 0
    while time.monotonic() - start < duration:
        if concurrent:
            task = asyncio.ensure_future(op(i))
            running.add(task)
            task.add_done_callback(running.discard)
        else:
            await op(i)
        i += 1
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def run(
    default_rate: float,
    scenario: Callable[[Flags], Awaitable[None]],
    *,
    trace: bool = True,
) -> None:
    """Start the agent, announce the address, run the scenario, linger; exit on SIGTERM."""
    flags = parse_flags(default_rate)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        agent = leakhunter.agent.start(
            flags.host,
            flags.port,
            trace=trace,
            trace_frames=10,
            memory_limit=flags.memlimit or None,
        )
        print(f"listening on {flags.host}:{agent.port}", flush=True)
        work = asyncio.create_task(scenario(flags), name="zoo-load")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), flags.duration + flags.linger)
        work.cancel()
        agent.stop()
        sys.stdout.flush()
        os._exit(0)  # leaked tasks/threads/sessions are the point: don't wait for them

    asyncio.run(main())
