"""Types of leakhunter's compiled kernels (_native.c)."""

from typing_extensions import Buffer

def scan(
    raw: Buffer, /
) -> (
    tuple[bytes, int, int, bytes, bytes, int, bytes, bytes, list[bytes] | None, bytes | None] | None
): ...
def or_reduce(
    column: Buffer,
    column_itemsize: int,
    items: Buffer,
    items_itemsize: int,
    starts: Buffer,
    ends: Buffer,
    /,
) -> bytes: ...
