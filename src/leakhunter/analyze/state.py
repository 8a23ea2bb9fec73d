"""Save and restore an analyser: its bounded state as one blob (JSON and numpy, no pickle).

``serve`` resumes every target after its own restart from these. The blob is
an ``.npz`` archive: a JSON document (schema ``leakhunter.analyzer/1``) with
the per-site and per-group tables and the stack caches, frames written once
in a table and referred to by index, plus each run's history arrays. Loading
never executes anything from the blob. The edge snapshots reports draw on are
kept by reference to the session folder they were saved in.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from leakhunter.analyze.analyzer import Analyzer, _Run
from leakhunter.analyze.frames import AppMatcher
from leakhunter.analyze.history import History
from leakhunter.analyze.options import AnalyzeOptions
from leakhunter.analyze.reduce import RunFold, _Seen
from leakhunter.analyze.series import StackResolver, _StackInfo
from leakhunter.collect.session import Snapshot, SnapshotRecord
from leakhunter.collect.snapshot import SnapshotView
from leakhunter.errors import FormatError
from leakhunter.model.goroutine import Frame

__all__ = ["SCHEMA", "restore", "save"]

SCHEMA = "leakhunter.analyzer/1"
Json = dict[str, Any]


class _Frames:
    """A frame table: each distinct frame written once, referred to by index."""

    def __init__(self, rows: list[list[Any]] | None = None) -> None:
        self.rows: list[list[Any]] = rows or []
        self.index: dict[Frame, int] = {}
        self.frames = [Frame(str(a), str(b), int(c)) for a, b, c in self.rows]

    def ref(self, f: Frame) -> int:
        i = self.index.get(f)
        if i is None:
            i = self.index[f] = len(self.rows)
            self.rows.append([f.function, f.file, f.line])
        return i

    def refs(self, frames: tuple[Frame, ...]) -> list[int]:
        return [self.ref(f) for f in frames]

    def get(self, refs: list[int]) -> tuple[Frame, ...]:
        return tuple(self.frames[i] for i in refs)


def _resolver_out(r: StackResolver | None, ft: _Frames) -> Json | None:
    if r is None:
        return None
    return {
        "cache": [[k.hex(), v.site, ft.refs(v.frames)] for k, v in r._cache.items()],
        "ids": [[ft.refs(k), n] for k, n in r._frame_ids.items()],
    }


def _resolver_in(r: StackResolver, doc: Json, ft: _Frames) -> StackResolver:
    r._cache = {bytes.fromhex(k): _StackInfo(site, ft.get(fr)) for k, site, fr in doc["cache"]}
    r._frame_ids = {ft.get(fr): int(n) for fr, n in doc["ids"]}
    return r


def _callers_out(c: dict[str, dict[Frame, int]], ft: _Frames) -> Json:
    return {k: [[ft.ref(f), n] for f, n in row.items()] for k, row in c.items()}


def _callers_in(doc: Json, ft: _Frames) -> dict[str, dict[Frame, int]]:
    return {k: {ft.frames[i]: int(n) for i, n in row} for k, row in doc.items()}


def _seen_out(s: _Seen, ft: _Frames) -> list[Any]:
    cb = None if s.created_by is None else ft.ref(s.created_by)
    return [s.seq, s.state, s.wait, s.leaked, s.count, cb, list(s.creator_app)]


def _seen_in(v: list[Any], ft: _Frames) -> _Seen:
    seq, state, wait, leaked, count, cb, app = v
    created = None if cb is None else ft.frames[cb]
    return _Seen(int(seq), str(state), wait, int(leaked), int(count), created, tuple(app))


def _fold_out(fold: RunFold, ft: _Frames) -> Json:
    m = fold.matcher
    return {
        "app_prefix": fold.app_prefix,
        "matcher": None if m is None else [m.prefix, m.goroot],
        "heap_resolver": _resolver_out(fold.heap_resolver, ft),
        "group_resolver": _resolver_out(fold.group_resolver, ft),
        "callers": _callers_out(fold.callers, ft),
        "module_callers": _callers_out(fold.module_callers, ft),
        "callees": _callers_out(fold.callees, ft),
        "best_site_value": fold.best_site_value,
        "site_frames": {k: ft.refs(v) for k, v in fold.site_frames.items()},
        "site_app": {k: sorted(v) for k, v in fold.site_app.items()},
        "group_frames": {k: ft.refs(v) for k, v in fold.group_frames.items()},
        "dump_first": {k: _seen_out(v, ft) for k, v in fold.dump_first.items()},
        "dump_recent": {k: _seen_out(v, ft) for k, v in fold.dump_recent.items()},
        "last_dump_seq": fold.last_dump_seq,
        "gomemlimit": fold.gomemlimit,
        "heap_period": fold.heap_period,
        "process": [fold.max_fds, fold.memory_limit, fold.process_source],
        "errors": fold.errors,
        "t0": fold.t0,
        "count": fold.count,
    }


def _fold_in(doc: Json, history: History, ft: _Frames) -> RunFold:
    fold = RunFold(doc["app_prefix"])
    fold.history = history
    if doc["matcher"] is not None:
        fold.matcher = AppMatcher(*doc["matcher"])
    if doc["heap_resolver"] is not None and fold.matcher is not None:
        from leakhunter.analyze.series import site_key

        fold.heap_resolver = _resolver_in(
            StackResolver(site_key(fold.matcher), fold.note_callers), doc["heap_resolver"], ft
        )
    _resolver_in(fold.group_resolver, doc["group_resolver"], ft)
    fold.callers = _callers_in(doc["callers"], ft)
    fold.module_callers = _callers_in(doc["module_callers"], ft)
    fold.callees = _callers_in(doc.get("callees", {}), ft)  # absent before they were kept
    fold.best_site_value = {k: float(v) for k, v in doc["best_site_value"].items()}
    fold.site_frames = {k: ft.get(v) for k, v in doc["site_frames"].items()}
    fold.site_app = {k: set(v) for k, v in doc["site_app"].items()}
    fold.group_frames = {k: ft.get(v) for k, v in doc["group_frames"].items()}
    fold.dump_first = {k: _seen_in(v, ft) for k, v in doc["dump_first"].items()}
    fold.dump_recent = {k: _seen_in(v, ft) for k, v in doc["dump_recent"].items()}
    fold.last_dump_seq = doc["last_dump_seq"]
    fold.gomemlimit = doc["gomemlimit"]
    fold.heap_period = int(doc["heap_period"])
    fold.max_fds, fold.memory_limit, fold.process_source = doc["process"]
    fold.errors = list(doc["errors"])
    fold.t0 = doc["t0"]
    fold.count = int(doc["count"])
    fold._prunes_seen = history.prunes
    return fold


def _snap_out(s: SnapshotView) -> list[Any] | None:
    folder = getattr(s, "directory", None) or getattr(s, "origin", None)
    if folder is None:
        return None
    return [str(folder), s.record.to_json()]


def _snap_in(v: list[Any] | None) -> SnapshotView | None:
    if v is None or not Path(v[0]).is_dir():
        return None
    return Snapshot(Path(v[0]), SnapshotRecord.from_json(v[1], "analyzer state"))


def _edges_out(run: _Run) -> Json:
    return {
        "first": {k: _snap_out(s) for k, s in run.first.items()},
        "last": {k: _snap_out(s) for k, s in run.last.items()},
        "seqs": [run.first_seq, run.last_seq],
    }


def _edges_in(run: _Run, doc: Json) -> None:
    for name, target in (("first", run.first), ("last", run.last)):
        for k, v in doc[name].items():
            snap = _snap_in(v)
            if snap is not None:
                target[k] = snap
    run.first_seq, run.last_seq = doc["seqs"]


def save(analyzer: Analyzer) -> bytes:
    """Return the analyser's state as bytes (restore() reads them back)."""
    ft = _Frames()
    arrays: dict[str, Any] = {}
    runs: list[Json | None] = []
    for k, run in enumerate((analyzer.current, analyzer.longest)):
        if run is None:
            runs.append(None)
            continue
        arrays[f"history{k}"] = np.frombuffer(run.fold.history.to_bytes(), dtype=np.uint8)
        runs.append({"epoch": run.epoch, "fold": _fold_out(run.fold, ft), "edges": _edges_out(run)})
    doc = {
        "schema": SCHEMA,
        "target": analyzer.target,
        "notes": list(analyzer.notes),
        "counts": [analyzer.runs, analyzer.snapshots, analyzer.usable, analyzer.with_errors],
        "options": {"app_prefix": analyzer.options.app_prefix},
        "history": asdict(analyzer.options.history),
        "runs": runs,
        "frames": ft.rows,
    }
    arrays["doc"] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def restore(data: bytes, options: AnalyzeOptions | None = None) -> Analyzer:
    """Rebuild an analyser saved by save() (options: the judgement's knobs, as now).

    Raises:
        FormatError: the blob is not an analyser state this version reads.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            doc = json.loads(bytes(z["doc"]).decode())
            if doc.get("schema") != SCHEMA:
                raise FormatError("analyzer state", f"unknown schema {doc.get('schema')!r}")
            histories = {k: History.from_bytes(bytes(z[k])) for k in z.files if k != "doc"}
            return _build(doc, histories, options)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise FormatError("analyzer state", f"unreadable ({exc})") from None


def _build(doc: Json, histories: dict[str, History], options: AnalyzeOptions | None) -> Analyzer:
    ft = _Frames(doc["frames"])
    a = Analyzer(doc["target"], options, notes=tuple(doc["notes"]))
    a.runs, a.snapshots, a.usable, a.with_errors = (int(x) for x in doc["counts"])
    built: list[_Run | None] = []
    for k, rdoc in enumerate(doc["runs"]):
        if rdoc is None:
            built.append(None)
            continue
        run = _Run(int(rdoc["epoch"]), a.options)
        run.fold = _fold_in(rdoc["fold"], histories[f"history{k}"], ft)
        _edges_in(run, rdoc["edges"])
        built.append(run)
    a.current, a.longest = built
    return a
