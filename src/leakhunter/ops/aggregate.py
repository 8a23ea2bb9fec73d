"""Flat/cum aggregation by function, line or whole stack, and pprof-compatible top.

All work is vectorised over interned stacks: each distinct stack is expanded
to node ids once, stack values are summed with numpy, and cum is computed over
unique (stack, node) pairs so a recursive function counts once per stack, as in
pprof. Row order, totals and the node-fraction cut follow `go tool pprof -top`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from leakhunter.model.profile import Profile
from leakhunter.ops.merge import BASE_LABEL

__all__ = ["Granularity", "NodeTable", "TopReport", "TopRow", "aggregate", "node_table", "top"]

I64 = npt.NDArray[np.int64]


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

    names: tuple[str, ...]
    frames: tuple[tuple[str, str, int], ...]
    stack_offsets: I64
    stack_nodes: I64


def _location_nodes(
    profile: Profile, granularity: Granularity
) -> tuple[list[str], list[tuple[str, str, int]], I64, I64, npt.NDArray[np.uint64]]:
    """Map each location to node ids; returns names, frames, CSR and sorted ids."""
    funcs = {f.id: f for f in profile.functions}
    index: dict[str, int] = {}
    names: list[str] = []
    frames: list[tuple[str, str, int]] = []
    counts: list[int] = []
    flat: list[int] = []
    for loc in profile.locations:
        n = 0
        for ln in loc.lines:
            f = funcs.get(ln.function_id)
            if f is None:
                continue
            if granularity is Granularity.LINE:
                file = os.path.normpath(f.filename) if f.filename else ""
                name = f"{f.name} {file}:{ln.line}" if file or ln.line else f.name
            else:
                name = f.name
            node = index.get(name)
            if node is None:
                node = index[name] = len(names)
                names.append(name)
                frames.append((f.name, f.filename, ln.line))
            flat.append(node)
            n += 1
        if n == 0:  # unsymbolized location: one node per address
            name = f"0x{loc.address:x}" if loc.address else "<unknown>"
            node = index.setdefault(name, len(names))
            if node == len(names):
                names.append(name)
                frames.append((name, "", 0))
            flat.append(node)
            n = 1
        counts.append(n)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    ids = np.fromiter((loc.id for loc in profile.locations), np.uint64, len(profile.locations))
    return names, frames, offsets, np.array(flat, dtype=np.int64), ids


def node_table(profile: Profile, granularity: Granularity = Granularity.FUNCTION) -> NodeTable:
    """Expand every interned stack into node ids of the given granularity."""
    gran = Granularity.FUNCTION if granularity is Granularity.STACK else granularity
    names, frames, loc_off, loc_nodes, ids = _location_nodes(profile, gran)
    stacks = profile.stacks
    if stacks.location_ids.size == 0 or ids.size == 0:
        table = NodeTable(
            tuple(names), tuple(frames), np.zeros(len(stacks) + 1, np.int64), np.zeros(0, np.int64)
        )
    else:
        order = np.argsort(ids, kind="stable")
        loc_index = order[np.searchsorted(ids[order], stacks.location_ids)]
        per_loc = np.diff(loc_off)
        if (per_loc == 1).all():
            nodes = loc_nodes[loc_off[:-1]][loc_index]
            offsets = stacks.offsets
        else:
            reps = per_loc[loc_index]
            starts = np.repeat(loc_off[:-1][loc_index], reps)
            within = np.arange(int(reps.sum()), dtype=np.int64) - np.repeat(
                np.cumsum(reps) - reps, reps
            )
            nodes = loc_nodes[starts + within]
            csum = np.concatenate([[0], np.cumsum(reps)])
            offsets = csum[stacks.offsets]
        table = NodeTable(tuple(names), tuple(frames), offsets.astype(np.int64), nodes)
    if granularity is Granularity.STACK:
        return _stack_nodes(table, len(stacks))
    return table


def _stack_nodes(fn: NodeTable, n_stacks: int) -> NodeTable:
    """One node per distinct function-level stack, named root-first like folded stacks."""
    index: dict[str, int] = {}
    names: list[str] = []
    frames: list[tuple[str, str, int]] = []
    nodes = np.zeros(n_stacks, dtype=np.int64)
    offs = fn.stack_offsets.tolist()
    stack_nodes = fn.stack_nodes.tolist()
    for s in range(n_stacks):
        chain = stack_nodes[offs[s] : offs[s + 1]]
        name = ";".join(fn.names[i] for i in reversed(chain)) or "<empty>"
        node = index.get(name)
        if node is None:
            node = index[name] = len(names)
            names.append(name)
            frames.append(fn.frames[chain[0]] if chain else ("<empty>", "", 0))
        nodes[s] = node
    return NodeTable(tuple(names), tuple(frames), np.arange(n_stacks + 1, dtype=np.int64), nodes)


def stack_values(profile: Profile, index: int) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Sum one sample type per interned stack; also say which stacks have nonzero samples."""
    col = profile.column(index)
    nz = col != 0
    n = len(profile.stacks)
    sums = np.zeros(n, dtype=np.int64)
    np.add.at(sums, profile.sample_stack[nz], col[nz])
    present = np.bincount(profile.sample_stack[nz], minlength=n) > 0
    return sums, present


def aggregate(
    profile: Profile, index: int, table: NodeTable
) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """Return flat and cum per node, and which nodes occur in nonzero samples."""
    n_nodes = len(table.names)
    sums, present = stack_values(profile, index)
    flat = np.zeros(n_nodes, dtype=np.int64)
    cum = np.zeros(n_nodes, dtype=np.int64)
    seen = np.zeros(n_nodes, dtype=bool)
    depth = np.diff(table.stack_offsets)
    use = present & (depth > 0)
    if not use.any():
        return flat, cum, seen
    s_idx = np.flatnonzero(use)
    np.add.at(flat, table.stack_nodes[table.stack_offsets[s_idx]], sums[s_idx])
    owner = np.repeat(np.arange(len(depth), dtype=np.int64), depth)
    keep = use[owner]
    pair = owner[keep] * n_nodes + table.stack_nodes[keep]
    pair = np.unique(pair)
    nodes = pair % n_nodes
    np.add.at(cum, nodes, sums[pair // n_nodes])
    # pprof keeps a node only if its values did not cancel out (diffs).
    seen = (cum != 0) | (flat != 0)
    return flat, cum, seen


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


def report_total(profile: Profile, index: int) -> int:
    """Total as pprof computes it: sum of |values|, or of the base's for a diff."""
    col = np.abs(profile.column(index))
    if profile.sample_labels:
        base = np.fromiter(
            (BASE_LABEL in lb for lb in profile.sample_labels), bool, profile.num_samples
        )
        diff_total = int(col[base].sum())
        if diff_total > 0:
            return diff_total
    return int(col.sum())


def top(
    profile: Profile,
    index: int,
    granularity: Granularity = Granularity.FUNCTION,
    limit: int | None = None,
    node_fraction: float = 0.005,
    *,
    total: int | None = None,
) -> TopReport:
    """Build the top table of one sample type.

    Nodes whose |cum| is below node_fraction of the summed flat values are
    dropped (pprof's default trimming); then rows sort by |flat| desc, name asc,
    |cum| desc, and ``limit`` keeps the first rows. ``total`` overrides the
    report total (pprof takes it before focus/ignore filtering).
    """
    table = node_table(profile, granularity)
    flat, cum, seen = aggregate(profile, index, table)
    nodes = np.flatnonzero(seen)
    flat_sum = int(flat[nodes].sum())
    cutoff = abs(int(float(flat_sum) * node_fraction))
    kept = nodes[np.abs(cum[nodes]) >= cutoff] if cutoff > 0 else nodes
    dropped = len(nodes) - len(kept)
    names = table.names
    order = sorted(kept.tolist(), key=lambda i: (-abs(int(flat[i])), names[i], -abs(int(cum[i]))))
    if limit is not None and limit >= 0:
        order = order[:limit]
    rows = tuple(TopRow(names[i], int(flat[i]), int(cum[i]), *table.frames[i]) for i in order)
    vt = profile.sample_types[index]
    return TopReport(
        sample_type=vt.type,
        unit=vt.unit,
        total=report_total(profile, index) if total is None else total,
        rows=rows,
        dropped_nodes=dropped,
        node_cutoff=cutoff,
        shown_flat=int(flat[kept].sum()),
    )
