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

from dataclasses import dataclass

import numpy as np

from leakhunter.model.profile import Profile
from leakhunter.ops.aggregate import Granularity, node_table, stack_values

__all__ = ["FlameGraph", "FlameOptions", "flame_graph"]

ROOT_NAME = "root"


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


class _Trie:
    """Mutable prefix tree used only while building (never escapes this module)."""

    def __init__(self) -> None:
        self.func: list[int] = [-1]
        self.parent: list[int] = [-1]
        self.width: list[int] = [0]
        self.net: list[int] = [0]
        self.child: dict[tuple[int, int], int] = {}

    def add(self, path: list[int], width: int, net: int) -> None:
        node = 0
        self.width[0] += width
        self.net[0] += net
        for func in path:
            key = (node, func)
            nxt = self.child.get(key)
            if nxt is None:
                nxt = self.child[key] = len(self.func)
                self.func.append(func)
                self.parent.append(node)
                self.width.append(0)
                self.net.append(0)
            node = nxt
            self.width[node] += width
            self.net[node] += net


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
    trie = _Trie()
    nodes = table.stack_nodes.tolist()
    bounds = table.stack_offsets.tolist()
    for s in np.flatnonzero(sums).tolist():
        net = int(sums[s])
        path = nodes[bounds[s] : bounds[s + 1]]
        path.reverse()  # root first
        trie.add(path, abs(net) if diff else net, net)
    keep = _kept(trie, o)
    return _freeze(trie, keep, table.frames, vt.type, vt.unit, diff)


def _kept(trie: _Trie, o: FlameOptions) -> list[int]:
    """Return the nodes to keep: wide enough, the widest max_nodes, parents always kept."""
    total = abs(trie.width[0])
    cutoff = total * o.min_fraction
    wide = [i for i in range(1, len(trie.func)) if abs(trie.width[i]) >= cutoff and trie.width[i]]
    # A child is never wider than its parent, so the widest n (parents first on
    # ties: they come earlier in creation order) always form a tree.
    wide.sort(key=lambda i: -abs(trie.width[i]))
    kept = set(wide[: max(0, o.max_nodes - 1)])
    return [0, *(i for i in range(1, len(trie.func)) if i in kept)]


def _freeze(
    trie: _Trie,
    keep: list[int],
    frames: tuple[tuple[str, str, int], ...],
    sample_type: str,
    unit: str,
    diff: bool,
) -> FlameGraph:
    kept = set(keep)
    children: dict[int, list[int]] = {i: [] for i in keep}
    for i in keep[1:]:
        children[trie.parent[i]].append(i)

    def name(i: int) -> str:
        return ROOT_NAME if i == 0 else frames[trie.func[i]][0]

    order: list[int] = []
    stack = [0]
    while stack:  # preorder, widest child first
        i = stack.pop()
        order.append(i)
        kids = sorted(children[i], key=lambda c: (-abs(trie.width[c]), name(c)))
        stack.extend(reversed(kids))
    new_index = {old: new for new, old in enumerate(order)}
    dropped = len(trie.func) - len(kept)
    # the root width held by dropped subtrees: dropped nodes whose parent stayed
    dropped_value = sum(
        abs(trie.width[i])
        for i in range(1, len(trie.func))
        if i not in kept and trie.parent[i] in kept
    )
    return FlameGraph(
        sample_type=sample_type,
        unit=unit,
        names=tuple(name(i) for i in order),
        files=tuple("" if i == 0 else frames[trie.func[i]][1] for i in order),
        parent=tuple(-1 if i == 0 else new_index[trie.parent[i]] for i in order),
        value=tuple(trie.width[i] for i in order),
        delta=tuple(trie.net[i] for i in order) if diff else (),
        pruned=dropped,
        pruned_value=dropped_value,
    )
