"""Group equal keys (64-bit hashes, masks, ids) in first-seen order, fast.

np.unique would do, but it sorts every time and its first call imports
numpy.ma (13 ms, a tenth of what `leakhunter top` spends decoding). The keys
met on the hot paths come in two shapes with cheaper answers: a handful of
distinct values (label sets: compare against each in turn) and nearly all
distinct (stacks: one sort shows where the few repeats are).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["first_of_run", "first_occurrence", "groups", "hash_rows", "window_words"]

I64 = npt.NDArray[np.int64]

#: Up to this many distinct values, grouping by repeated comparison beats sorting.
_FEW = 24


def first_occurrence(keys: npt.NDArray[np.uint64]) -> I64:
    """For each key, the index of the first key equal to it."""
    n = keys.size
    probe = np.sort(keys[: 4 * _FEW])
    if probe.size and 1 + int(np.count_nonzero(probe[1:] != probe[:-1])) < _FEW // 2:
        back = np.full(n, -1, dtype=np.int64)
        for _ in range(_FEW):
            left = back < 0
            first = int(np.argmax(left))
            if not left[first]:
                return back
            back[left & (keys == keys[first])] = first
        # more distinct values than the probe promised: sort after all
    ordered = np.sort(keys)
    repeats = ordered[1:][ordered[1:] == ordered[:-1]]
    back = np.arange(n, dtype=np.int64)
    if repeats.size == 0:
        return back
    if repeats.size <= max(64, n // 256):  # a few repeats: settle just those
        flagged = np.flatnonzero(np.isin(keys, repeats))
        seen: dict[int, int] = {}
        for i, v in zip(flagged.tolist(), keys[flagged].tolist(), strict=True):
            back[i] = seen.setdefault(v, i)
        return back
    order = np.argsort(keys, kind="stable")  # equal keys stay in index order
    ordered = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    back[order] = np.repeat(order[starts], np.diff(np.append(starts, n)))
    return back


def groups(back: I64) -> tuple[I64, I64]:
    """From first_occurrence's answer: the first index of each group, and each key's group.

    Groups are numbered in first-seen order.
    """
    is_first = back == np.arange(back.size)
    rank = np.cumsum(is_first) - 1
    return np.flatnonzero(is_first), rank[back]


def first_of_run(which: I64) -> I64:
    """Each group's first index, given group numbers in first-seen order (0, 1, 0, 2...)."""
    if which.size == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.maximum.accumulate(np.concatenate(([-1], which[:-1])))
    return np.flatnonzero(which > before)


def hash_rows(words: npt.NDArray[np.uint64], lens: I64) -> npt.NDArray[np.uint64]:
    """Mix each row of 64-bit words (and its length) into one 64-bit hash."""
    h = lens.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for j in range(words.shape[1]):
        h ^= words[:, j]
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    return h


_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def window_words(
    data: npt.NDArray[np.uint8], starts: I64, lens: I64, words: int
) -> npt.NDArray[np.uint64]:
    """Read segments of a byte buffer as rows of little-endian words, zero-padded.

    An unaligned view with a one-byte stride turns "the 8 bytes at position p"
    into one gather, so segments are keyed in place instead of being copied
    into padded rows first. The few reads that would run past the end of data
    are served from a zero-padded copy of its last bytes. The length goes into
    the hash and the comparison, so the zero padding cannot make two different
    segments equal.
    """
    out = np.zeros((starts.size, words), dtype=np.uint64)
    if data.size == 0:
        return out
    tail_at = max(data.size - 8, 0)  # reads from here on use the padded tail
    tail = np.zeros(data.size - tail_at + 8, dtype=np.uint8)
    tail[: data.size - tail_at] = data[tail_at:]
    views = [_windows(data), _windows(tail)]
    for w in range(words):
        at = starts + 8 * w
        keep = _LOW_BYTES[np.clip(lens - 8 * w, 0, 8)]
        inside = at < tail_at
        if inside.all():
            out[:, w] = views[0][at] & keep
            continue
        out[inside, w] = views[0][at[inside]] & keep[inside]
        late = np.flatnonzero(~inside & (keep != 0))
        out[late, w] = views[1][at[late] - tail_at] & keep[late]
    return out


def _windows(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Every 8-byte window of data as a little-endian word (a strided view, no copy)."""
    return np.ndarray(shape=(max(data.size - 7, 0),), dtype="<u8", buffer=data.data, strides=(1,))
