"""Sources: where snapshots come from (a live HTTP target, the in-process agent, files).

A :class:`Source` pushes snapshots, in time order, into a callback until it
runs out or ``stop`` is set, and then says how it ended. The push form fits
every source without a thread: the live ones are the ``collect`` loop, which
owns the timing (due times, retries, waits that end on ``stop``) and already
hands each committed snapshot to a callback; a folder of files is a plain
loop. An iterator form would need a thread and a queue around ``collect`` to
turn its callback inside out, for nothing the analyser needs.

``ProfileDirSource`` (a folder of profiles an application wrote itself) lives
in ``collect.profiledir``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx

from leakhunter.collect.fetch import Fetcher
from leakhunter.collect.session import SessionInfo, SnapshotRecord, load_manifest
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.collect.watch import WatchOptions, WatchResult, collect, target_base

if TYPE_CHECKING:
    from leakhunter.agent.core import AgentCore

__all__ = ["AgentSource", "AgentTransport", "HttpSource", "OnSnapshot", "Source", "SourceResult"]

#: What a source calls with each snapshot, in time order (e.g. ``Analyzer.add``).
OnSnapshot = Callable[[SnapshotView], None]


@dataclass(frozen=True, slots=True)
class SourceResult:
    """How a source ended: ``stopped`` is "done", "interrupted" or "write-error".

    ``notes`` are what the verdict should say about the data (estimated
    figures, skipped files); ``session`` names where the snapshots are kept,
    for report headers.
    """

    snapshots: int
    stopped: str = "done"
    notes: tuple[str, ...] = ()
    session: SessionInfo | None = None
    error: str | None = None


class Source(Protocol):
    """Anything that yields snapshots of one target, in time order."""

    @property
    def target(self) -> str:
        """Return what is watched (a URL, the agent's process, a folder), for the verdict."""
        ...

    def run(self, on_snapshot: OnSnapshot, stop: threading.Event) -> SourceResult:
        """Hand every snapshot to on_snapshot until done or stop is set; say how it ended."""
        ...


def _watched(result: WatchResult, notes: tuple[str, ...] = ()) -> SourceResult:
    manifest = load_manifest(result.directory)
    return SourceResult(
        result.snapshots,
        result.stopped,
        notes,
        SessionInfo.of(result.directory, manifest),
        result.error,
    )


class HttpSource:
    """A live target's pprof endpoints, through the ``collect`` loop (saved to ``out_dir``)."""

    def __init__(
        self,
        url: str,
        options: WatchOptions,
        out_dir: str | Path,
        *,
        fetcher: Fetcher | None = None,
        on_record: Callable[[SnapshotRecord], None] | None = None,
        manifest_options: Mapping[str, object] | None = None,
    ) -> None:
        """Watch url with options; ``on_record`` sees each record (progress lines)."""
        self.url = url
        self.options = options
        self.out_dir = Path(out_dir)
        self.fetcher = fetcher
        self.on_record = on_record
        self.manifest_options = manifest_options

    @property
    def target(self) -> str:
        """Return the target's base URL."""
        return target_base(self.url)

    def run(self, on_snapshot: OnSnapshot, stop: threading.Event) -> SourceResult:
        """Collect into out_dir, handing each snapshot on as fetched (never read back)."""
        result = collect(
            self.url,
            self.options,
            self.out_dir,
            on_snapshot=self.on_record,
            on_view=on_snapshot,
            stop_event=stop,
            fetcher=self.fetcher,
            manifest_options=self.manifest_options,
        )
        return _watched(result)


class AgentTransport(httpx.BaseTransport):
    """An httpx transport that answers from an ``AgentCore`` in this process (no socket)."""

    def __init__(self, core: AgentCore) -> None:
        """Serve requests from core."""
        self.core = core

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request the way the agent's HTTP server would."""
        answer = self.core.handle(request.url.path, request.url.query.decode("ascii", "replace"))
        return httpx.Response(
            answer.status,
            headers={"content-type": answer.content_type},
            content=answer.body,
            request=request,
        )


class AgentSource:
    """The in-process Python agent, through the same ``collect`` loop as a live target.

    Requests go to the agent's ``AgentCore`` directly, so a process can watch
    itself without opening a port (what a ``self_watch`` agent needs).
    """

    def __init__(
        self,
        core: AgentCore,
        options: WatchOptions,
        out_dir: str | Path,
        *,
        on_record: Callable[[SnapshotRecord], None] | None = None,
        manifest_options: Mapping[str, object] | None = None,
    ) -> None:
        """Watch core with options, saving the session to out_dir."""
        self.core = core
        self.options = options
        self.out_dir = Path(out_dir)
        self.on_record = on_record
        self.manifest_options = manifest_options
        # A URL only names the target in the session: the transport never opens it.
        self.url = f"python-agent://pid{os.getpid()}"

    @property
    def target(self) -> str:
        """Return the agent's name (this process)."""
        return self.url

    def run(self, on_snapshot: OnSnapshot, stop: threading.Event) -> SourceResult:
        """Collect from the agent, handing each snapshot on as answered."""
        with Fetcher(self.options.fetch, transport=AgentTransport(self.core)) as fetcher:
            http = HttpSource(
                self.url,
                self.options,
                self.out_dir,
                fetcher=fetcher,
                on_record=self.on_record,
                manifest_options=self.manifest_options,
            )
            return http.run(on_snapshot, stop)
