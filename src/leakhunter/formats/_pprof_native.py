"""The compiled sample walk (scan in _native.c) behind the scan interface of _pprof_samples.

pprof.decode asks for it first. It splits the Profile message into its samples,
interned and decoded, and the bytes of every other field, which upb then
parses as a small message (no bytes object per sample, no copy of the samples
in upb's arena). It gives way to the numpy walk when the kernels are not built
or are switched off, and when the top level is shaped in a way only upb's own
reading settles. Both give the same stacks, values and label sets, in the same
first-seen order (tests/test_native.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from leakhunter.formats.varint import VarintError
from leakhunter.model.profile import Ids
from leakhunter.native import kernels

__all__ = ["NativeScan", "native_scan"]

I64 = npt.NDArray[np.int64]

_ID_DTYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


@dataclass(frozen=True, slots=True)
class NativeScan:
    """A Profile message split: its other fields, and its samples as the walk left them.

    ``num_types`` is how many sample_type fields the walk counted (each
    sample has that many values); upb's reading of ``rest`` must agree.
    """

    rest: bytes
    num_types: int
    stack_offsets: I64
    location_ids: Ids
    sample_stack: I64
    value_matrix: I64
    label_blobs: list[bytes] | None
    sample_label: I64 | None

    def __len__(self) -> int:
        return len(self.sample_stack)

    def stacks(self) -> tuple[I64, Ids, I64]:
        """CSR offsets and ids of the distinct stacks (first-seen order), each sample's stack."""
        return self.stack_offsets, self.location_ids, self.sample_stack

    def values(self, k: int) -> I64:
        """The (n, k) value matrix (the walk checked every sample has k values)."""
        return self.value_matrix.reshape(len(self), k)

    def label_sets(self) -> tuple[list[bytes], I64]:
        """The distinct label encodings (b"" for none) and each sample's index into them."""
        if self.label_blobs is None or self.sample_label is None:
            return [b""], np.zeros(len(self), dtype=np.int64)
        return self.label_blobs, self.sample_label


def native_scan(raw: bytes) -> NativeScan | None:
    """Split and walk a raw Profile message, or return None (no kernels, or a job for upb).

    Raises:
        VarintError: a sample is corrupt (truncated, bad tag, wrong value count).
    """
    native = kernels()
    if native is None:
        return None
    try:
        out = native.scan(raw)
    except ValueError as exc:
        raise VarintError(str(exc)) from None
    if out is None:
        return None
    rest, _n, k, offsets, ids, width, stack_of, values, blobs, which = out
    return NativeScan(
        rest=rest,
        num_types=k,
        stack_offsets=np.frombuffer(offsets, dtype=np.int64),
        location_ids=np.frombuffer(ids, dtype=_ID_DTYPES[width]),
        sample_stack=np.frombuffer(stack_of, dtype=np.int64),
        value_matrix=np.frombuffer(values, dtype=np.int64),
        label_blobs=blobs,
        sample_label=None if which is None else np.frombuffer(which, dtype=np.int64),
    )
