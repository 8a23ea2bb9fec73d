"""Record a zoo scenario into a session folder: start it, watch it, stop it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from leakhunter.collect.session import SnapshotRecord
from leakhunter.collect.snapshot import MemorySnapshot
from leakhunter.collect.watch import WatchOptions, WatchResult, collect
from leakhunter.harness.run import start

__all__ = ["record"]

# The scenario keeps driving load a while past the planned end so late snapshots
# still see it running, and lingers so a slow collector never hits a dead port.
_LOAD_MARGIN = 30.0
_LINGER = 120.0


def record(
    scenario: str,
    out_dir: str | Path,
    snapshots: int = 20,
    interval: float = 1.0,
    *,
    rate: float | None = None,
    scale: float | None = None,
    options: WatchOptions | None = None,
    on_snapshot: Callable[[SnapshotRecord], None] | None = None,
    on_view: Callable[[MemorySnapshot], None] | None = None,
    stop_event: threading.Event | None = None,
    binary: str | Path | None = None,
) -> WatchResult:
    """Start a zoo scenario, collect ``snapshots`` at ``interval`` into out_dir, stop it.

    ``options`` supplies everything but interval/snapshots/duration (e.g. dump
    settings); the scenario name, rate and scale are recorded in the manifest.
    ``on_view`` gets each snapshot with its profiles as fetched (a live analyser).

    Raises:
        GoNotFoundError, ZooBuildError, ZooStartError: the scenario cannot run.
        SessionWriteError: out_dir cannot be created or already holds a session.
    """
    opts = replace(options or WatchOptions(), interval=interval, snapshots=snapshots, duration=None)
    # On a loaded machine a scrape can take far longer than the interval (a
    # Python agent's census took 10-20 s at load average 8 on two cores): plan
    # for windows ten times as long, so the load never stops inside the window.
    # It costs no time: the scenario is stopped once the last snapshot is in.
    load = 10 * snapshots * interval + _LOAD_MARGIN
    with start(
        scenario, duration=load, linger=_LINGER, rate=rate, scale=scale, binary=binary
    ) as run:
        return collect(
            run.url,
            opts,
            out_dir,
            on_snapshot=on_snapshot,
            on_view=on_view,
            stop_event=stop_event,
            manifest_options={"zoo": {"scenario": scenario, "rate": rate, "scale": scale}},
        )
