"""Bounded history of one target run: the newest snapshots as taken, older ones as means.

A watch of a few minutes and a monitor that runs for weeks keep the same
shape of state: tier 0 holds the newest ``raw_points`` snapshots as taken;
a snapshot that falls out of it is folded into the per-minute mean of tier 1,
whose oldest minute falls into the per-hour mean of tier 2, whose oldest hour
is dropped. Memory is rows x (sum of tier capacities), whatever the history,
and adding a snapshot costs O(rows), amortised, whatever came before.

Rows are named ``(table, key)``: a site's inuse bytes, a goroutine group's
count, an exact MemStats figure. A table may have a validity row (was the heap
profile there in this snapshot?): its cells are NaN where the table was not
collected and 0 where the key was simply absent, so a bucket mean counts only
the snapshots that saw the table. Window views hand the judgement plain arrays.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["History", "HistoryOptions", "WindowView"]

F64 = npt.NDArray[np.float64]
Row = tuple[str, str]
_VALID = "valid"


@dataclass(frozen=True, slots=True)
class HistoryOptions:
    """How much history each tier keeps (defaults: ~1,000 snapshots, 24 h, 30 days)."""

    raw_points: int = 1024
    minute_points: int = 1440
    hour_points: int = 720
    #: rows beyond this many trigger pruning of rows that hold nothing but zeros
    prune_rows: int = 4096
    #: bucket width of the middle tier: a monitor scraping every 60 s keeps
    #: 5-minute means there (per-minute means would duplicate its raw points)
    minute_width: float = 60.0
    hour_width: float = 3600.0
    #: keep values as float32: half the memory, ~7 significant digits (a serve
    #: holding a thousand targets' histories; views still hand out float64)
    single: bool = False

    @property
    def dtype(self) -> type[np.floating[Any]]:
        """The values' storage type."""
        return np.float32 if self.single else np.float64

    def capacities(self) -> tuple[tuple[float, int], ...]:
        """Return (bucket width in seconds, capacity) per tier; width 0 = as taken."""
        return ((0.0, max(2, self.raw_points)), (self.minute_width, max(2, self.minute_points)),
                (self.hour_width, max(2, self.hour_points)))  # fmt: skip


class _Tier:
    """A ring of columns (time, weight, one value per row); the oldest falls out first.

    The ring is allocated as it fills (doubling up to ``limit`` columns): a
    monitor holds thousands of targets, most of them with far less history
    than the tiers could hold, and preallocating every tier cost ~1.25 MiB
    per target.
    """

    __slots__ = (
        "cap", "count", "data", "dtype", "head", "limit", "n", "open_bucket", "t", "w", "width"
    )  # fmt: skip

    def __init__(
        self,
        width: float,
        limit: int,
        rows: int,
        cap: int = 16,
        dtype: type[np.floating[Any]] = np.float64,
    ) -> None:
        self.width, self.limit, self.dtype = width, limit, dtype
        self.cap = min(limit, max(2, cap))  # allocated columns (the ring's modulus)
        self.t = np.zeros(self.cap)
        self.w = np.zeros(self.cap)
        self.data = np.zeros((rows, self.cap), dtype)
        self.count = np.zeros((rows, 1))  # finite contributions to the open bucket
        self.head = 0  # ring index of the oldest column
        self.n = 0
        self.open_bucket: float | None = None  # bucket id of the newest column

    @property
    def full(self) -> bool:
        """True when a new column must push the oldest out."""
        return self.n >= self.limit

    def expand(self) -> None:
        """Double the allocated columns (up to the limit), oldest column first."""
        o = self.order()
        cap = min(self.limit, 2 * self.cap)
        t, w = np.zeros(cap), np.zeros(cap)
        data = np.zeros((self.data.shape[0], cap), self.dtype)
        t[: self.n], w[: self.n], data[:, : self.n] = self.t[o], self.w[o], self.data[:, o]
        self.t, self.w, self.data, self.cap, self.head = t, w, data, cap, 0

    def grow_rows(self, rows: int) -> None:
        extra = rows - self.data.shape[0]
        if extra > 0:
            self.data = np.vstack([self.data, np.zeros((extra, self.cap), self.dtype)])
            self.count = np.vstack([self.count, np.zeros((extra, 1))])

    def order(self) -> npt.NDArray[np.int64]:
        """Ring indices of the columns, oldest first."""
        return (self.head + np.arange(self.n)) % self.cap

    def pop_oldest(self) -> tuple[float, float, F64]:
        i = self.head
        out = float(self.t[i]), float(self.w[i]), self.data[:, i].copy()
        self.head = (self.head + 1) % self.cap
        self.n -= 1
        return out

    def push(self, t: float, w: float, col: F64) -> None:
        """Append a new column."""
        i = (self.head + self.n) % self.cap
        self.t[i], self.w[i] = t, w
        self.data[: len(col), i] = col
        self.data[len(col) :, i] = np.nan
        self.n += 1

    def merge(self, t: float, w: float, col: F64) -> None:
        """Fold a column into the newest one (a running mean of the finite values)."""
        i = (self.head + self.n - 1) % self.cap
        tw = self.w[i] + w
        self.t[i] = (self.t[i] * self.w[i] + t * w) / tw
        self.w[i] = tw
        ok = np.isfinite(col)
        cnt = self.count[: len(col), 0]
        cur = self.data[: len(col), i]
        both = ok & (cnt > 0)
        cur[both] = cur[both] + (col[both] - cur[both]) / (cnt[both] + 1)
        fresh = ok & (cnt == 0)
        cur[fresh] = col[fresh]
        cnt[ok] += 1


@dataclass(frozen=True, slots=True)
class WindowView:
    """The history over one window at one resolution: times and rows as plain arrays."""

    t: F64
    rows: Mapping[Row, F64]
    raw: bool  # every point is one snapshot (no means)

    def row(self, table: str, key: str) -> F64:
        """Return one row (all NaN when the history has no such row)."""
        got = self.rows.get((table, key))
        return got if got is not None else np.full(len(self.t), np.nan)

    def table(self, name: str) -> dict[str, F64]:
        """Return every row of one table, by key."""
        return {k: v for (tb, k), v in self.rows.items() if tb == name}

    def valid(self, table: str) -> list[bool]:
        """Return whether the table was collected at each point."""
        v = self.rows.get((_VALID, table))
        return [False] * len(self.t) if v is None else [bool(x > 0) for x in v]


class History:
    """Tiered, bounded columns of named rows; see the module docstring."""

    def __init__(self, options: HistoryOptions | None = None) -> None:
        self.options = options or HistoryOptions()
        self.index: dict[Row, int] = {}
        self.tables: dict[str, str | None] = {}  # table -> its validity table (None: scalar)
        self._row_valid: list[int] = []  # per row: row index of its validity row, -1 none
        dtype = self.options.dtype
        self.tiers = [_Tier(w, c, 0, dtype=dtype) for w, c in self.options.capacities()]
        self.added = 0
        self.prunes = 0  # how many times rows were pruned (owners of per-key tables follow)
        self._prune_at = self.options.prune_rows

    # -- rows ---------------------------------------------------------------
    def declare(self, table: str, valid_by: str | None = None) -> None:
        """Declare a table; ``valid_by`` names the validity row its zeros depend on."""
        self.tables[table] = valid_by
        if valid_by is not None:
            self._row((_VALID, valid_by))

    def _row(self, key: Row) -> int:
        i = self.index.get(key)
        if i is not None:
            return i
        i = self.index[key] = len(self.index)
        vt = self.tables.get(key[0]) if key[0] != _VALID else None
        self._row_valid.append(-1 if vt is None else self.index[(_VALID, vt)])
        for tier in self.tiers:
            # a quarter more rows at a time: doubling left up to half the rows unused
            tier.grow_rows(max(16, i + 1 + i // 4) if tier.data.shape[0] <= i else 0)
            # earlier columns: 0 where the table was collected, NaN where it was not
            if vt is None:
                tier.data[i, :] = np.nan
            else:
                valid = tier.data[self.index[(_VALID, vt)], :]
                tier.data[i, :] = np.where(valid > 0, 0.0, np.nan)
        return i

    # -- adding -------------------------------------------------------------
    def add(
        self,
        t: float,
        values: Iterable[tuple[Row, float]],
        collected: Sequence[str] = (),
    ) -> None:
        """Add one snapshot taken at t (seconds, increasing); values add up per row.

        ``collected`` names the validity tables present in this snapshot; rows of
        tables valid here and not in ``values`` get 0, others NaN.
        """
        for vt in collected:
            self._row((_VALID, vt))
        keys, vals = _unzip(values)
        get = self.index.get
        idx = [get(key, -1) for key in keys]
        for j in (j for j, i in enumerate(idx) if i < 0):
            idx[j] = self._row(keys[j])  # new rows, in the order their values came
        col = self._blank_column({self.index[(_VALID, vt)] for vt in collected})
        _add_values(col, np.asarray(idx, dtype=np.int64), np.asarray(vals, dtype=np.float64))
        self._push(0, t, 1.0, col)
        self.added += 1
        if len(self.index) > self._prune_at:
            self.prune()

    def _blank_column(self, have: set[int]) -> F64:
        """Return a new column before values: validity rows 1/0, their tables' rows 0 or NaN.

        Rows of a table whose validity row is in ``have`` start at 0 (the key was
        absent), rows of tables not collected and scalar rows start at NaN.
        """
        rows = len(self.index)
        col = np.full(rows, np.nan)
        if have:
            # rv + 1 indexes a table whose entry 0 stands for "no validity row"
            rv = np.asarray(self._row_valid, dtype=np.int64)
            seen = np.zeros(rows + 1, dtype=bool)
            seen[np.fromiter(have, np.int64, len(have)) + 1] = True
            col[seen[rv + 1]] = 0.0
        valid_rows = {self.index[(_VALID, vt)] for vt in self.tables.values() if vt}
        col[list(valid_rows)] = 0.0
        col[list(have)] = 1.0
        return col

    def _push(self, k: int, t: float, w: float, col: F64) -> None:
        tier = self.tiers[k]
        if tier.width > 0:
            bucket = float(np.floor(t / tier.width))
            if tier.n and tier.open_bucket == bucket:
                tier.merge(t, w, col)
                return
        if tier.full:
            old_t, old_w, old = tier.pop_oldest()
            if k + 1 < len(self.tiers):
                self._push(k + 1, old_t, old_w, old)
        elif tier.n == tier.cap:
            tier.expand()
        tier.push(t, w, col)
        if tier.width > 0:
            tier.open_bucket = float(np.floor(t / tier.width))
            tier.count[:, 0] = 0.0
            tier.count[: len(col), 0] = np.isfinite(col)

    def prune(self) -> None:
        """Drop rows that hold only zeros or NaN in every tier (keys long gone)."""
        keep = []
        for key, i in self.index.items():
            if key[0] == _VALID or self.tables.get(key[0], "") is None:
                keep.append(key)
                continue
            live = any(
                np.any(np.nan_to_num(tier.data[i, tier.order()]) != 0) for tier in self.tiers
            )
            if live:
                keep.append(key)
        self._reindex(keep)
        self.prunes += 1
        self._prune_at = max(self.options.prune_rows, 2 * len(self.index))

    def _reindex(self, keep: list[Row]) -> None:
        rows = [self.index[k] for k in keep]
        for tier in self.tiers:
            tier.data = tier.data[rows] if rows else np.zeros((0, tier.cap), tier.dtype)
            tier.count = tier.count[rows] if rows else np.zeros((0, 1))
        self.index = {k: j for j, k in enumerate(keep)}
        self._row_valid = [
            -1
            if k[0] == _VALID or self.tables.get(k[0]) is None
            else self.index[(_VALID, str(self.tables[k[0]]))]
            for k in keep
        ]

    # -- reading ------------------------------------------------------------
    @property
    def span(self) -> float:
        """Seconds between the oldest and the newest point kept."""
        ts = [tier.t[tier.order()] for tier in self.tiers if tier.n]
        if not ts:
            return 0.0
        allt = np.concatenate(ts)
        return float(allt.max() - allt.min())

    @property
    def downsampled(self) -> bool:
        """Return True when some of the history is kept as means only."""
        return any(tier.n for tier in self.tiers[1:])

    def view(self, seconds: float | None = None) -> WindowView:
        """Return the last ``seconds`` of history (None: all) at one even resolution.

        When the window lies within the finest tier, its points are used as they
        are; when it reaches into a coarser tier, the finer tiers' newer columns
        are folded into that tier's buckets too, so points stay evenly spaced.
        """
        newest = self._newest()
        start = -np.inf if seconds is None else newest - seconds
        # the coarsest tier holding a point inside the window sets the resolution
        # (coarser tiers only hold older points than finer ones)
        level = 0
        for k, tier in enumerate(self.tiers):
            if tier.n and tier.t[(tier.head + tier.n - 1) % tier.cap] >= start - 1e-9:
                level = k
        ts, cols, ws = [], [], []
        for tier in reversed(self.tiers[: level + 1]):
            o = tier.order()
            ts.append(tier.t[o])
            ws.append(tier.w[o])
            cols.append(tier.data[:, o])
        t = np.concatenate(ts) if ts else np.zeros(0)
        w = np.concatenate(ws) if ws else np.zeros(0)
        data = np.hstack(cols) if cols else np.zeros((len(self.index), 0))
        data = data.astype(np.float64, copy=False)
        width = self.tiers[level].width
        if width > 0 and len(t):
            t, data = _rebucket(t, w, data, width)
        keep = t >= start - 1e-9
        t, data = t[keep], data[:, keep]
        rows = {key: data[i] for key, i in self.index.items()}
        return WindowView(t=t, rows=rows, raw=width == 0)

    def _newest(self) -> float:
        for tier in self.tiers:
            if tier.n:
                return float(tier.t[(tier.head + tier.n - 1) % tier.cap])
        return 0.0

    # -- state --------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise the history (numpy arrays, no pickle) for save and restore."""
        meta = {
            "options": [self.options.raw_points, self.options.minute_points,
                        self.options.hour_points, self.options.prune_rows,
                        self.options.minute_width, self.options.hour_width,
                        self.options.single],
            "rows": [list(k) for k in self.index],
            "tables": self.tables,
            "tiers": [[t.head, t.n, t.open_bucket] for t in self.tiers],
            "added": self.added,
        }  # fmt: skip
        arrays: dict[str, F64] = {}
        for k, tier in enumerate(self.tiers):
            o = tier.order()
            arrays[f"t{k}"], arrays[f"w{k}"] = tier.t[o], tier.w[o]
            rows = len(self.index)
            arrays[f"d{k}"], arrays[f"c{k}"] = tier.data[:rows, o], tier.count[:rows]
        buf = io.BytesIO()
        meta_arr = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez_compressed(buf, meta=meta_arr, **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    @staticmethod
    def from_bytes(data: bytes) -> History:
        """Rebuild a history saved by to_bytes (ValueError/KeyError on a damaged one)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            h = History(HistoryOptions(*meta["options"]))
            h.tables = {str(k): (None if v is None else str(v)) for k, v in meta["tables"].items()}
            keep: list[Row] = [(str(a), str(b)) for a, b in meta["rows"]]
            h.index = {k: i for i, k in enumerate(keep)}
            for k, tier in enumerate(h.tiers):
                _, n, bucket = meta["tiers"][k]
                tier.n, tier.head, tier.open_bucket = int(n), 0, bucket
                tier.cap = min(tier.limit, max(tier.cap, tier.n))
                tier.t, tier.w = np.zeros(tier.cap), np.zeros(tier.cap)
                tier.data = np.zeros((len(keep), tier.cap), tier.dtype)
                tier.t[:n], tier.w[:n] = z[f"t{k}"], z[f"w{k}"]
                tier.data[:, :n] = z[f"d{k}"]
                tier.count = np.array(z[f"c{k}"], dtype=np.float64)
            h._reindex(keep)
            h.added = int(meta["added"])
        return h


def _unzip(values: Iterable[tuple[Row, float]]) -> tuple[list[Row], list[float]]:
    pairs = list(values)
    return [k for k, _ in pairs], [v for _, v in pairs]


def _add_values(col: F64, idx: npt.NDArray[np.int64], vals: F64) -> None:
    """Add values into their rows in the order given; a NaN row takes its first value.

    ``np.bincount`` accumulates in input order from 0.0, so each row gets
    exactly the sum a left-to-right loop would give (0.0 + v == v).
    """
    if not len(idx):
        return
    sums = np.bincount(idx, weights=vals, minlength=len(col))
    hit = np.bincount(idx, minlength=len(col)) > 0
    base = col[hit]
    col[hit] = np.where(np.isnan(base), 0.0, base) + sums[hit]


def _rebucket(t: F64, w: F64, data: F64, width: float) -> tuple[F64, F64]:
    """Fold columns into buckets of ``width`` seconds (weighted time, mean of finite values)."""
    ids = np.floor(t / width)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    if len(starts) == len(t):
        return t, data
    tw = np.add.reduceat(t * w, starts) / np.add.reduceat(w, starts)
    ok = np.isfinite(data)
    sums = np.add.reduceat(np.where(ok, data, 0.0), starts, axis=1)
    counts = np.add.reduceat(ok.astype(np.float64), starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return tw, means
