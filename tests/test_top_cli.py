"""`leakhunter top` / `leakhunter diff`: options, text and JSON output (golden files), startup.

Golden files live in tests/data/pprof/golden; regenerate them with
LEAKHUNTER_UPDATE_GOLDEN=1 pytest tests/test_top_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leakhunter.cli.main import main
from leakhunter.formats import pprof
from leakhunter.model import Label
from pprof_helpers import DATA, hand_profile

GOLDEN = DATA / "golden"
UPDATE = os.environ.get("LEAKHUNTER_UPDATE_GOLDEN") == "1"
HEAP = DATA / "heap.pb.gz"


def run(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def golden(name: str, text: str, *paths: Path) -> None:
    for i, path in enumerate(paths):
        text = text.replace(str(path), f"PROFILE{i}")
    target = GOLDEN / name
    if UPDATE:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    assert text == target.read_text(), f"{name} differs (LEAKHUNTER_UPDATE_GOLDEN=1 to accept)"


@pytest.fixture
def pair(tmp_path):
    base = hand_profile(
        [
            (("alloc", "cache.Put", "main"), (1, 100), (Label("bytes", num=100),)),
            (("alloc", "handler", "main"), (2, 200)),
            (("tiny", "main"), (1, 1)),
        ],
        (("alloc_objects", "count"), ("alloc_space", "bytes")),
        default_sample_type="alloc_space",
    )
    new = hand_profile(
        [
            (("alloc", "cache.Put", "main"), (9, 900)),
            (("alloc", "handler", "main"), (1, 100)),
            ((("inl:4", "outer:9"), "main"), (3, 3000)),
        ],
        (("alloc_objects", "count"), ("alloc_space", "bytes")),
        default_sample_type="alloc_space",
    )
    paths = tmp_path / "base.pb.gz", tmp_path / "new.pb.gz"
    pprof.write(base, paths[0])
    pprof.write(new, paths[1])
    return paths


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("top_heap.txt", []),
        ("top_heap_lines_n5.txt", ["--by", "line", "-n", "5"]),
        ("top_heap_alloc_objects_stack.txt", ["--sample-index", "alloc_objects", "--by", "stack"]),
        ("top_heap_focus.txt", ["--focus", "main\\.", "--ignore", "ping"]),
        ("top_heap.json", ["--json", "-n", "8"]),
    ],
)
def test_top_golden(capsys, name, args):
    golden(name, run(capsys, "top", str(HEAP), *args), HEAP)


def test_diff_golden(capsys, pair):
    base, new = pair
    golden("diff.txt", run(capsys, "diff", str(base), str(new), "--node-fraction", "0"), new, base)
    golden("diff_lines.json", run(capsys, "diff", str(base), str(new), "--by", "line", "--json"))


def test_json_schema(capsys):
    doc = json.loads(run(capsys, "top", str(HEAP), "--json"))
    assert doc["schema"] == "leakhunter.top/1"
    assert set(doc) == {"schema", "sample_type", "unit", "total", "dropped_nodes", "rows"}
    assert doc["sample_type"] == "inuse_space" and doc["unit"] == "bytes"
    for row in doc["rows"]:
        assert set(row) == {"name", "flat", "cum", "function", "file", "line"}
    assert sum(r["flat"] for r in doc["rows"]) <= doc["total"]


def test_sample_index_by_name_or_number(capsys):
    by_name = run(capsys, "top", str(HEAP), "--sample-index", "alloc_space", "--json")
    by_number = run(capsys, "top", str(HEAP), "--sample-index", "1", "--json")
    assert by_name == by_number
    assert json.loads(by_name)["sample_type"] == "alloc_space"


def test_focus_keeps_the_whole_profile_total(capsys):
    whole = json.loads(run(capsys, "top", str(HEAP), "--json"))
    focused = json.loads(run(capsys, "top", str(HEAP), "--focus", "main\\.ping", "--json"))
    assert focused["total"] == whole["total"]
    assert {r["name"] for r in focused["rows"]} >= {"main.ping"}


def test_limit_and_node_fraction(capsys):
    rows = json.loads(run(capsys, "top", str(HEAP), "--json", "--node-fraction", "0"))["rows"]
    assert len(json.loads(run(capsys, "top", str(HEAP), "--json", "-n", "3"))["rows"]) == 3
    default = json.loads(run(capsys, "top", str(HEAP), "--json"))
    assert len(rows) == len(default["rows"]) + default["dropped_nodes"]


def test_diff_title_and_total(capsys, pair):
    base, new = pair
    text = run(capsys, "diff", str(base), str(new))
    assert text.splitlines()[0] == f"Diff: {new} - {base}"
    doc = json.loads(run(capsys, "diff", str(base), str(new), "--json"))
    assert doc["total"] == 301  # the base's alloc_space total
    assert doc["rows"][0]["name"] == "inl"


def console_script() -> list[str]:
    beside = Path(sys.executable).parent / "leakhunter"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "leakhunter.cli.main"]


def test_console_script_prints_the_table():
    proc = subprocess.run(
        [*console_script(), "top", str(HEAP), "-n", "3"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1] == "Type: inuse_space" and len(lines) == 8


def test_top_does_not_import_what_it_does_not_need():
    code = (
        "import sys; from leakhunter.cli.main import main; "
        f"main(['top', {str(HEAP)!r}]); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'httpx', 'certifi_x'}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.splitlines()[-1] == "[]"
