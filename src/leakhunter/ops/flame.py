"""Flame graph trees (icicles) of a profile or of a diff, pruned to a drawable size.

A flame graph is a prefix tree of stacks, root first, where a node's width is
the value of every stack passing through it. Nodes are functions (inlined
frames expanded, as pprof's flame graph shows them). For a diff (the result of
``ops.merge.diff``) a node's width is the summed *absolute* change of the stacks
under it and ``delta`` its net change, so growth and shrinkage both stay visible
and widths still add up (a net width would let a growing and a shrinking child
overflow their parent). The tree is pruned (nodes below a fraction of the root,
then all but the widest ``max_nodes``) so a report stays small and draws fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from leakhunter.model.profile import Profile
from leakhunter.ops.aggregate import Granularity, node_table, stack_values

__all__ = ["FlameGraph", "FlameOptions", "flame_graph"]

ROOT_NAME = "root"
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class FlameOptions:
    """How much of the tree to keep."""

    min_fraction: float = 0.001  # drop nodes narrower than this share of the root
    max_nodes: int = 4000  # then keep at most this many (the widest; parents first)


@dataclass(frozen=True, slots=True)
class FlameGraph:
    """An icicle tree in preorder: node 0 is the root, ``parent[i] < i`` for every other node.

    Children of a node follow it, widest first (ties by name), so a renderer
    lays the tree out in one pass. ``names[i]``/``files[i]`` are node i's
    function and its source file; ``delta`` is empty unless this is a diff,
    where ``value`` is the absolute change and ``delta`` the net one. ``pruned``
    counts nodes dropped by the pruning, ``pruned_value`` the root width they held.
    """

    sample_type: str
    unit: str
    names: tuple[str, ...]
    files: tuple[str, ...]
    parent: tuple[int, ...]
    value: tuple[int, ...]
    delta: tuple[int, ...] = ()
    pruned: int = 0
    pruned_value: int = 0

    @property
    def total(self) -> int:
        """Return the root's width."""
        return self.value[0] if self.value else 0

    @property
    def is_diff(self) -> bool:
        """Return True when the tree shows a change (widths are absolute changes)."""
        return bool(self.delta)


@dataclass(frozen=True, slots=True)
class _Tree:
    """The unpruned prefix tree as arrays; node 0 is the root, nodes are numbered by depth."""

    func: npt.NDArray[np.int64]  # node id of the function (-1 for the root)
    parent: npt.NDArray[np.int64]
    depth: npt.NDArray[np.int64]
    width: npt.NDArray[np.int64]
    net: npt.NDArray[np.int64]


def _tree(stack_offsets: I64, stack_nodes: I64, sums: I64, diff: bool) -> _Tree:
    """Build the prefix tree level by level, vectorised over the stacks.

    At depth d every stack still that deep steps from its current node to the
    child named by its d-th frame from the root; (parent, function) pairs are
    made unique with one sort per level, so the cost is O(frames log stacks)
    in numpy rather than a Python loop per frame.
    """
    sel = np.flatnonzero(sums)
    ends = stack_offsets[sel + 1]
    lens = ends - stack_offsets[sel]
    nets = sums[sel]
    weights = np.abs(nets) if diff else nets
    n_funcs = int(stack_nodes.max()) + 2 if stack_nodes.size else 1
    at = np.zeros(len(sel), dtype=np.int64)  # each stack's current node
    func, parent, depth = [np.array([-1])], [np.array([-1])], [np.array([0])]
    width, net = [np.array([int(weights.sum())])], [np.array([int(nets.sum())])]
    next_id = 1
    for d in range(int(lens.max()) if lens.size else 0):
        alive = np.flatnonzero(lens > d)
        keys = at[alive] * n_funcs + stack_nodes[ends[alive] - 1 - d]
        uniq, inv = np.unique(keys, return_inverse=True)
        func.append(uniq % n_funcs)
        parent.append(uniq // n_funcs)
        depth.append(np.full(len(uniq), d + 1))
        # float sums are exact here: profile values stay far below 2**53
        width.append(np.rint(np.bincount(inv, weights[alive], len(uniq))).astype(np.int64))
        net.append(np.rint(np.bincount(inv, nets[alive], len(uniq))).astype(np.int64))
        at[alive] = next_id + inv
        next_id += len(uniq)
    return _Tree(
        *(np.concatenate(parts).astype(np.int64) for parts in (func, parent, depth, width, net))
    )


def flame_graph(
    profile: Profile,
    sample_type: str | None = None,
    options: FlameOptions | None = None,
    *,
    diff: bool = False,
) -> FlameGraph:
    """Build the pruned icicle of one sample type of a profile (or of a diff, see module doc).

    Raises:
        KeyError: the profile has no such sample type.
    """
    o = options or FlameOptions()
    index = profile.sample_index(sample_type)
    vt = profile.sample_types[index]
    table = node_table(profile, Granularity.FUNCTION)
    sums, _ = stack_values(profile, index)
    tree = _tree(table.stack_offsets, table.stack_nodes, sums, diff)
    keep = _kept(tree, o)
    return _freeze(tree, keep, table.frames, vt.type, vt.unit, diff)


def _kept(tree: _Tree, o: FlameOptions) -> npt.NDArray[np.bool_]:
    """Mark the nodes to keep: wide enough, the widest max_nodes; a kept node's parent is kept.

    A child is never wider than its parent and ties rank the shallower node
    first, so the widest n nodes always form a tree.
    """
    w = np.abs(tree.width)
    cutoff = w[0] * o.min_fraction
    candidates = np.flatnonzero((w >= cutoff) & (w > 0))
    candidates = candidates[candidates > 0]
    order = candidates[np.lexsort((tree.depth[candidates], -w[candidates]))]
    keep = np.zeros(len(w), dtype=bool)
    keep[0] = True
    keep[order[: max(0, o.max_nodes - 1)]] = True
    return keep


def _freeze(
    tree: _Tree,
    keep: npt.NDArray[np.bool_],
    frames: Sequence[tuple[str, str, int]],
    sample_type: str,
    unit: str,
    diff: bool,
) -> FlameGraph:
    kept = np.flatnonzero(keep).tolist()
    func, parent, width = tree.func.tolist(), tree.parent.tolist(), tree.width.tolist()
    children: dict[int, list[int]] = {i: [] for i in kept}
    for i in kept[1:]:
        children[parent[i]].append(i)

    def name(i: int) -> str:
        return ROOT_NAME if i == 0 else frames[func[i]][0]

    order: list[int] = []
    stack = [0]
    while stack:  # preorder, widest child first
        i = stack.pop()
        order.append(i)
        kids = sorted(children[i], key=lambda c: (-abs(width[c]), name(c)))
        stack.extend(reversed(kids))
    new_index = {old: new for new, old in enumerate(order)}
    # the root width held by dropped subtrees: dropped nodes whose parent stayed
    dropped = ~keep & keep[np.maximum(tree.parent, 0)]
    dropped[0] = False
    net = tree.net.tolist()
    return FlameGraph(
        sample_type=sample_type,
        unit=unit,
        names=tuple(name(i) for i in order),
        files=tuple("" if i == 0 else frames[func[i]][1] for i in order),
        parent=tuple(-1 if i == 0 else new_index[parent[i]] for i in order),
        value=tuple(width[i] for i in order),
        delta=tuple(net[i] for i in order) if diff else (),
        pruned=len(keep) - len(kept),
        pruned_value=int(np.abs(tree.width[dropped]).sum()),
    )
