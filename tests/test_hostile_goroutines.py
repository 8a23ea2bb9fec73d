"""Class 3 of issue 15: goroutine dumps must not lose goroutines silently."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hostile_helpers import lh
from leakhunter.formats.goroutine_text import parse_text


def _block(gid: int, worker: int) -> str:
    return (
        f"goroutine {gid} [chan receive, {gid % 5 + 1} minutes]:\n"
        f"main.worker{worker}(0xc000{gid:04x})\n"
        f"\t/src/main.go:{10 + worker} +0x1d\n"
        "created by main.main in goroutine 1\n"
        "\t/src/main.go:5 +0x2a\n"
    )


def test_a_dump_whose_blank_lines_were_stripped_keeps_every_goroutine() -> None:
    text = "".join(_block(i, i % 3) for i in range(1, 52))
    dump = parse_text(text.encode())
    assert dump.total == 51
    assert sorted(g.count for g in dump.groups) == [17, 17, 17]


def test_a_junk_line_just_before_a_header_is_skipped_and_counted() -> None:
    text = _block(1, 0) + "\n" + "log: something else\n" + _block(2, 0) + "\n" + _block(3, 1)
    dump = parse_text(text.encode())
    assert dump.total == 3
    assert dump.skipped_lines == 1


def test_the_cli_reports_what_it_skipped(tmp_path: Path) -> None:
    dump = tmp_path / "dump.txt"
    dump.write_text(_block(1, 0) + "\njunk line\n" + _block(2, 0) + "\n")
    proc = lh("goroutines", str(dump), "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '"total":2' in proc.stdout.replace(" ", "")
    assert "skipped 1 line(s)" in proc.stderr


_SEPARATORS = st.sampled_from(["\n", "", "\n\n", "junk\n", "\njunk\n", "\n-----\n\n"])


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(0, 3), _SEPARATORS), min_size=1, max_size=30))
def test_every_goroutine_is_counted_whatever_separates_the_blocks(
    blocks: list[tuple[int, str]],
) -> None:
    text = "".join(_block(i, w) + sep for i, (w, sep) in enumerate(blocks, start=1))
    dump = parse_text(text.encode())
    assert dump.total == len(blocks)
    by_worker: dict[int, int] = {}
    for w, _ in blocks:
        by_worker[w] = by_worker.get(w, 0) + 1
    assert sorted(g.count for g in dump.groups) == sorted(by_worker.values())
