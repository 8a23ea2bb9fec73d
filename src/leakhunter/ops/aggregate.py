"""Flat/cum aggregation by function, line or whole stack, and pprof-compatible top.

Nodes are named and merged the way pprof's graph package does it (function
name; or name, cleaned file and line; unnamed code by its binary), so `top`
prints what `go tool pprof -top` prints. All sample work is vectorised over the
interned stacks. A node's cum counts each stack once even when recursion puts
the node on it several times: every location gets a bit mask of its nodes,
masks are OR-reduced along each stack, and stacks are then grouped by mask,
which is linear in the number of frames (the few stacks whose node sets need
more than 1024 bits fall back to deduplicating (stack, node) pairs).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from leakhunter.model.grouping import first_occurrence, groups
from leakhunter.model.profile import (
    Ids,
    Profile,
    all_known,
    as_index,
    distinct_labels,
    intern_segments,
)
from leakhunter.native import kernels
from leakhunter.ops.merge import BASE_LABEL

__all__ = [
    "Granularity",
    "NodeTable",
    "TopReport",
    "TopRow",
    "aggregate",
    "node_table",
    "report_total",
    "stack_values",
    "top",
]

I64 = npt.NDArray[np.int64]
Frame = tuple[str, str, int]
_T = TypeVar("_T")

#: Node sets wider than this many 64-bit words use the pair-dedupe fallback.
_MAX_MASK_WORDS = 16


class Granularity(StrEnum):
    """What a node of the aggregation is."""

    FUNCTION = "function"
    LINE = "line"
    STACK = "stack"


@dataclass(frozen=True, slots=True)
class NodeTable:
    """Nodes of one granularity and, per interned stack, its node ids (leaf first).

    ``frames[i]`` is (function, file, line) of node i's representative frame.
    """

    names: Sequence[str]
    frames: Sequence[Frame]
    stack_offsets: I64
    stack_nodes: I64


@dataclass(frozen=True, slots=True)
class _LocationNodes:
    """Every location's nodes (innermost line first) in CSR form, and the stacks' frames.

    Entry i of the CSR belongs to the location with id i when ids are dense
    (then ``frame_items`` is the stacks' location ids themselves, no lookup),
    else to the i-th location of the profile.
    """

    names: list[str]
    frames: list[Frame]
    offsets: I64
    nodes: I64
    frame_items: npt.NDArray[np.integer[Any]]


def _clean(path: str) -> str:
    """Clean a path like Go's filepath.Clean (which pprof applies to file names)."""
    if not path:
        return ""
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("//") else out


def _location_nodes(profile: Profile, granularity: Granularity) -> _LocationNodes:
    """Name each location's nodes as pprof's NodeInfo.PrintableName does."""
    funcs = {f.id: f for f in profile.functions}
    objfiles = {m.id: m.filename for m in profile.mappings}
    lines_too = granularity is Granularity.LINE
    index: dict[tuple[object, ...], int] = {}
    names: list[str] = []
    frames: list[Frame] = []
    per_location: list[list[int]] = []
    for loc in profile.locations:
        objfile = objfiles.get(loc.mapping_id, "")
        mine = []
        for ln in loc.lines or (None,):
            f = funcs.get(ln.function_id) if ln is not None else None
            name = f.name if f is not None else ""
            file = _clean(f.filename) if f is not None and lines_too else ""
            line = ln.line if ln is not None and lines_too else 0
            # like NodeInfo: unnamed code is told apart by binary and start line
            key = (name, file, line) if name else (name, file, line, objfile, _start(f))
            node = index.get(key)
            if node is None:
                node = index[key] = len(names)
                names.append(_printable(name, file, line, objfile))
                if f is not None and ln is not None:
                    frames.append((f.name, f.filename, ln.line))
                else:
                    frames.append((names[-1], "", 0))
            mine.append(node)
        per_location.append(mine)
    ids = [loc.id for loc in profile.locations]
    wanted = profile.stacks.location_ids
    top = max(ids, default=0)
    if top <= 4 * len(ids) + (1 << 16) and (wanted.size == 0 or int(wanted.max()) <= top):
        by_id: list[list[int]] = [[] for _ in range(top + 1)]
        for i, mine in zip(ids, per_location, strict=True):
            by_id[i] = mine
        known = np.zeros(top + 1, dtype=bool)
        known[ids] = True
        missing = all_known(known, wanted)
        if missing is not None:
            raise ValueError(f"a stack refers to missing location {missing}")
        offsets, nodes = _csr(by_id)
        # small ids are their own items: no lookup, no copy
        return _LocationNodes(names, frames, offsets, nodes, as_index(wanted))
    offsets, nodes = _csr(per_location)
    loc_ids = np.fromiter(ids, np.uint64, len(ids))
    return _LocationNodes(names, frames, offsets, nodes, _location_index(loc_ids, wanted))


def _csr(lists: list[list[int]]) -> tuple[I64, I64]:
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=offsets[1:])
    return offsets, np.fromiter((v for x in lists for v in x), np.int64, int(offsets[-1]))


def _start(f: object) -> int:
    return int(getattr(f, "start_line", 0))


def _printable(name: str, file: str, line: int, objfile: str) -> str:
    parts = [name] if name else []
    if line:
        parts.append(f"{file}:{line}")
    elif file:
        parts.append(file)
    elif not name:
        parts.append(f"[{posixpath.basename(objfile)}]" if objfile else "<unknown>")
    return " ".join(parts)


def _location_index(ids: npt.NDArray[np.uint64], wanted: Ids) -> I64:
    """Map location ids to positions in ids; a lookup table when ids are dense."""
    if wanted.size == 0:
        return np.zeros(0, dtype=np.int64)
    if ids.size == 0:
        raise ValueError(f"stacks refer to location {int(wanted[0])} but there are none")
    top = int(ids.max())
    if int(wanted.max()) <= top <= 4 * ids.size + (1 << 16):
        lut = np.full(top + 1, -1, dtype=np.int64)
        lut[ids] = np.arange(ids.size)
        pos = lut[wanted]
    else:
        order = np.argsort(ids, kind="stable")
        at = np.minimum(np.searchsorted(ids[order], wanted), ids.size - 1)
        pos = np.where(ids[order][at] == wanted, order[at], -1)
    if int(pos.min()) < 0:
        raise ValueError(f"a stack refers to missing location {int(wanted[np.argmin(pos)])}")
    return pos


def node_table(profile: Profile, granularity: Granularity = Granularity.FUNCTION) -> NodeTable:
    """Expand every interned stack into node ids of the given granularity."""
    gran = Granularity.FUNCTION if granularity is Granularity.STACK else granularity
    ln = _location_nodes(profile, gran)
    per_loc = np.diff(ln.offsets)
    offsets = profile.stacks.offsets
    items = ln.frame_items
    if items.size == 0:
        nodes = np.zeros(0, dtype=np.int64)
    elif (per_loc == 1).all():  # no inlining: one lookup per frame through a small table
        nodes = ln.nodes[ln.offsets[:-1]][items]
    else:  # inlined locations expand to several nodes, innermost first
        reps = per_loc[items]
        ends = np.cumsum(reps)
        within = np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - reps, reps)
        nodes = ln.nodes[np.repeat(ln.offsets[:-1][items], reps) + within]
        offsets = np.concatenate([[0], ends])[offsets]
    table = NodeTable(tuple(ln.names), tuple(ln.frames), offsets.astype(np.int64), nodes)
    if granularity is Granularity.STACK:
        return _stack_nodes(table, len(profile.stacks))
    return table


def _stack_nodes(fn: NodeTable, n_stacks: int) -> NodeTable:
    """One node per distinct function-level stack, named root-first like folded stacks.

    Names and frames are built when asked for: top shows a handful of a big
    profile's 250k stacks, and joining every name took seconds.
    """
    top = int(fn.stack_nodes.max()) if fn.stack_nodes.size else 0
    width = 1 if top < 1 << 8 else 2 if top < 1 << 16 else 4  # node ids, narrowest that fits
    raw = fn.stack_nodes.astype(f"<u{width}").tobytes()
    chains, nodes = intern_segments(raw, fn.stack_offsets * width)
    stacks = _Chains(fn, chains.tolist())
    return NodeTable(
        _Lazy(len(stacks), stacks.name),
        _Lazy(len(stacks), stacks.frame),
        np.arange(n_stacks + 1, dtype=np.int64),
        nodes,
    )


class _Chains:
    """The function-level stacks behind stack nodes: node i is stack ``reps[i]``."""

    def __init__(self, fn: NodeTable, reps: list[int]) -> None:
        self.fn = fn
        self.reps = reps

    def __len__(self) -> int:
        return len(self.reps)

    def chain(self, i: int) -> list[int]:
        offsets, s = self.fn.stack_offsets, self.reps[i]
        nodes: list[int] = self.fn.stack_nodes[int(offsets[s]) : int(offsets[s + 1])].tolist()
        return nodes

    def name(self, i: int) -> str:
        return ";".join(self.fn.names[n] for n in reversed(self.chain(i))) or "<empty>"

    def frame(self, i: int) -> Frame:
        chain = self.chain(i)
        return self.fn.frames[chain[0]] if chain else ("<empty>", "", 0)


class _Lazy(Sequence[_T]):
    """A read-only sequence whose items are computed on first use, then kept."""

    def __init__(self, size: int, make: Callable[[int], _T]) -> None:
        self._make = make
        self._items: list[_T | None] = [None] * size

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> _T: ...
    @overload
    def __getitem__(self, i: slice) -> list[_T]: ...
    def __getitem__(self, i: int | slice) -> _T | list[_T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        item = self._items[i]
        if item is None:
            item = self._items[i] = self._make(i if i >= 0 else i + len(self))
        return item


def stack_values(profile: Profile, index: int) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Sum one sample type per interned stack; also say which stacks have nonzero samples."""
    col = profile.column(index)
    n = len(profile.stacks)
    sst = profile.sample_stack
    if n == len(sst) and (sst == np.arange(n)).all():  # one sample per stack, in order
        return col.astype(np.int64, copy=True), col != 0
    sums = np.zeros(n, dtype=np.int64)
    np.add.at(sums, sst, col)
    present = np.zeros(n, dtype=bool)
    present[sst[col != 0]] = True
    return sums, present


def _flat_cum(
    n_nodes: int,
    item_offsets: I64,
    item_nodes: I64,
    frame_items: npt.NDArray[np.integer[Any]],
    stack_offsets: I64,
    sums: I64,
) -> tuple[I64, I64]:
    """Flat and cum per node, stacks given as sequences of items (leaf first).

    An item is a location (its nodes: its lines, innermost first) or a node.
    Flat goes to the innermost node of a stack's first item; cum to every node
    on the stack, once per stack.
    """
    flat = np.zeros(n_nodes, dtype=np.int64)
    cum = np.zeros(n_nodes, dtype=np.int64)
    depth = np.diff(stack_offsets)
    full = np.flatnonzero((depth > 0) & (sums != 0))
    if full.size == 0 or n_nodes == 0:
        return flat, cum
    leaf = item_nodes[item_offsets[frame_items[stack_offsets[full]]]]
    np.add.at(flat, leaf, sums[full])
    words = -(-n_nodes // 64)
    if words > _MAX_MASK_WORDS:
        _cum_by_pairs(cum, item_offsets, item_nodes, frame_items, stack_offsets, sums)
        return flat, cum
    # bit masks: per item its nodes, then per stack the OR over its items; the
    # narrowest word that fits keeps the per-frame arrays small
    word = np.dtype(_mask_dtype(n_nodes) if words == 1 else np.uint64).newbyteorder("<")
    bits_per_word = 8 * word.itemsize
    owner = np.repeat(np.arange(len(item_offsets) - 1), np.diff(item_offsets))
    item_masks = np.zeros((len(item_offsets) - 1, words), dtype=word)
    bits = np.left_shift(word.type(1), (item_nodes % bits_per_word).astype(word))
    np.bitwise_or.at(item_masks, (owner, item_nodes // bits_per_word), bits)
    nonempty = np.flatnonzero(depth > 0)
    starts = stack_offsets[nonempty]
    stack_masks = np.empty((nonempty.size, words), dtype=word)
    ends = stack_offsets[nonempty + 1]
    native = kernels()
    for w in range(words):
        column = np.ascontiguousarray(item_masks[:, w])
        if native is not None:  # one compiled loop: no index conversion, no gathered copy
            items = np.ascontiguousarray(frame_items)
            stack_masks[:, w] = np.frombuffer(
                native.or_reduce(column, word.itemsize, items, items.itemsize, starts, ends),
                dtype=word,
            )
            continue
        # A block of stacks at a time through one reused buffer: one gather of
        # every frame would fault in a fresh array as large as the stacks
        # (48 MB for 6M frames), which costs more than the gather itself.
        buffer = np.empty(0, dtype=word)
        for b in range(0, nonempty.size, _BLOCK):
            lo, hi = int(starts[b]), int(ends[min(b + _BLOCK, nonempty.size) - 1])
            if buffer.size < hi - lo:
                buffer = np.empty(hi - lo, dtype=word)
            frames = np.take(column, frame_items[lo:hi], out=buffer[: hi - lo])
            stack_masks[b : b + _BLOCK, w] = np.bitwise_or.reduceat(
                frames, starts[b : b + _BLOCK] - lo
            )
    # group stacks with the same node set, then spread each group's sum over its nodes
    if words == 1:
        firsts, which = groups(first_occurrence(stack_masks.reshape(-1).astype(np.uint64)))
        distinct = stack_masks[firsts]
    else:
        rows = stack_masks.view(np.dtype((np.void, word.itemsize * words))).reshape(-1)
        distinct, which = np.unique(rows, return_inverse=True)
    group_sums = np.zeros(distinct.size, dtype=np.int64)
    np.add.at(group_sums, which.reshape(-1), sums[nonempty])
    as_bytes = np.frombuffer(np.ascontiguousarray(distinct).tobytes(), dtype=np.uint8)
    member = np.unpackbits(
        as_bytes.reshape(distinct.size, word.itemsize * words), axis=1, bitorder="little"
    )[:, :n_nodes]
    cum += group_sums @ member.astype(np.int64)
    return flat, cum


#: Stacks per block when OR-ing their frames' node masks.
_BLOCK = 1 << 15


def _mask_dtype(n_nodes: int) -> type[np.unsignedinteger[Any]]:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n_nodes <= 8 * np.dtype(dtype).itemsize:
            return dtype
    return np.uint64


def _cum_by_pairs(
    cum: I64,
    item_offsets: I64,
    item_nodes: I64,
    frame_items: npt.NDArray[np.integer[Any]],
    stack_offsets: I64,
    sums: I64,
) -> None:
    """Add to cum by deduplicating (stack, node) pairs (O(F log F); for huge node sets)."""
    per_item = np.diff(item_offsets)
    reps = per_item[frame_items]
    ends = np.cumsum(reps)
    within = np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - reps, reps)
    nodes = item_nodes[np.repeat(item_offsets[:-1][frame_items], reps) + within]
    node_offsets = np.concatenate([[0], ends])[stack_offsets]
    owner = np.repeat(np.arange(len(stack_offsets) - 1), np.diff(node_offsets))
    n_nodes = len(cum)
    pair = np.sort(owner * n_nodes + nodes)
    pair = pair[np.concatenate([[True], pair[1:] != pair[:-1]])]
    np.add.at(cum, pair % n_nodes, sums[pair // n_nodes])


def aggregate(
    profile: Profile, index: int, table: NodeTable
) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """Return flat and cum per node, and which nodes pprof would keep in its graph.

    A node is kept unless its flat and cum are both zero (values that cancel
    out in a diff, or nodes only on zero-valued samples).
    """
    n_nodes = len(table.names)
    sums, _ = stack_values(profile, index)
    every = np.arange(n_nodes + 1, dtype=np.int64)
    flat, cum = _flat_cum(n_nodes, every, every[:-1], table.stack_nodes, table.stack_offsets, sums)
    return flat, cum, (cum != 0) | (flat != 0)


@dataclass(frozen=True, slots=True)
class TopRow:
    """One row of a top report."""

    name: str
    flat: int
    cum: int
    function: str
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class TopReport:
    """A top table: rows in `go tool pprof -top` order, with its total and cut."""

    sample_type: str
    unit: str
    total: int
    rows: tuple[TopRow, ...]
    dropped_nodes: int
    node_cutoff: int
    shown_flat: int
    node_fraction: float = 0.005


def report_total(profile: Profile, index: int) -> int:
    """Total as pprof computes it: sum of |values|, or of the base's for a diff."""
    col = np.abs(profile.column(index))
    if profile.sample_labels:
        base = _base_samples(profile)
        if base is not None:
            diff_total = int(col[base].sum())
            if diff_total > 0:
                return diff_total
    return int(col.sum())


def _base_samples(profile: Profile) -> npt.NDArray[np.bool_] | None:
    """Mark samples labelled pprof::base=true (None if there are none).

    Label tuples are shared between samples (decode and merge intern them), so
    each distinct tuple is tested once.
    """
    reps, which = distinct_labels(profile.sample_labels)
    verdict = np.fromiter((BASE_LABEL in labels for labels in reps), dtype=bool, count=len(reps))
    if not verdict.any():
        return None
    marked: npt.NDArray[np.bool_] = verdict[which]
    return marked


def _node_values(
    profile: Profile, index: int, granularity: Granularity
) -> tuple[Sequence[str], Sequence[Frame], I64, I64]:
    """Names, frames, flat and cum of every node (without expanding inlined frames)."""
    if granularity is Granularity.STACK:
        table = node_table(profile, granularity)
        sums, _ = stack_values(profile, index)
        flat = np.zeros(len(table.names), dtype=np.int64)
        np.add.at(flat, table.stack_nodes, sums)  # one node per stack: its cum is its flat
        return table.names, table.frames, flat, flat.copy()
    ln = _location_nodes(profile, granularity)
    sums, _ = stack_values(profile, index)
    flat, cum = _flat_cum(
        len(ln.names), ln.offsets, ln.nodes, ln.frame_items, profile.stacks.offsets, sums
    )
    return ln.names, ln.frames, flat, cum


def top(
    profile: Profile,
    index: int,
    granularity: Granularity = Granularity.FUNCTION,
    limit: int | None = None,
    node_fraction: float = 0.005,
    *,
    total: int | None = None,
) -> TopReport:
    """Build the top table of one sample type, as `go tool pprof -top` does.

    Nodes whose |cum| is below node_fraction of the summed flat values are
    dropped (pprof's default trimming); then rows sort by |flat| desc, name
    asc (byte order), |cum| desc, and ``limit`` keeps the first rows.
    ``total`` overrides the report total (pprof takes it before focus/ignore).
    """
    names, frames, flat, cum = _node_values(profile, index, granularity)
    nodes = np.flatnonzero((cum != 0) | (flat != 0))
    flat_sum = int(flat[nodes].sum())
    cutoff = abs(int(float(flat_sum) * node_fraction))
    kept = nodes[np.abs(cum[nodes]) >= cutoff] if cutoff > 0 else nodes
    flat_of, cum_of = flat.tolist(), cum.tolist()
    order = sorted(
        kept.tolist(),
        key=lambda i: (
            -abs(flat_of[i]),
            names[i].encode("utf-8", "surrogateescape"),
            -abs(cum_of[i]),
        ),
    )
    if limit is not None and limit >= 0:
        order = order[:limit]
    rows = tuple(TopRow(names[i], flat_of[i], cum_of[i], *frames[i]) for i in order)
    vt = profile.sample_types[index]
    return TopReport(
        sample_type=vt.type,
        unit=vt.unit,
        total=report_total(profile, index) if total is None else total,
        rows=rows,
        dropped_nodes=len(nodes) - len(kept),
        node_cutoff=cutoff,
        shown_flat=int(flat[kept].sum()),
        node_fraction=node_fraction,
    )
