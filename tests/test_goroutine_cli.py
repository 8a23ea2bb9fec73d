"""`leakhunter goroutines`: JSON contract, human report (golden), bad input, URL sources.

Regenerate the golden files with ``pytest tests/test_goroutine_cli.py --update-golden``
after an intended change.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from golden import Golden
from leakhunter.analyze.goroutine_suspects import SuspectOptions, rank_groups
from leakhunter.cli.main import main
from leakhunter.collect.dump_source import dump_url
from leakhunter.formats.goroutine_text import load_dump, parse_text

DATA = Path(__file__).parent / "data" / "goroutines"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["goroutines", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- JSON contract -----------------------------------------------------------------------------


def test_json_shape(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, golden: Golden
) -> None:
    monkeypatch.chdir(DATA)
    code, out, err = run(capsys, "states_minutes_debug2.txt", "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert list(doc)[:3] == ["schema", "total", "groups"]
    assert doc["schema"] == "leakhunter.goroutines/1" and doc["total"] == 35
    assert sum(g["count"] for g in doc["groups"]) == 35
    required = {
        "count",
        "state",
        "state_class",
        "wait_minutes",
        "leaked",
        "stack",
        "created_by",
    }
    for g in doc["groups"]:
        assert required <= set(g)
        assert isinstance(g["count"], int) and isinstance(g["leaked"], int)
        assert g["wait_minutes"] is None or set(g["wait_minutes"]) == {"min", "max"}
        for frame in g["stack"] + ([g["created_by"]] if g["created_by"] else []):
            assert set(frame) == {"function", "file", "line"}
            assert isinstance(frame["line"], int)
    first = doc["groups"][0]
    assert first["state"] == "chan receive" and first["state_class"] == "channel"
    assert first["wait_minutes"] == {"min": 2, "max": 2}
    assert first["stack"][0]["function"] == "main.recvWorker"
    assert first["created_by"]["function"] == "main.start"
    assert first["creator_goroutine"] == 1 and first["state_inferred"] is False
    golden.check("goroutines/states_minutes.json", json.dumps(doc, indent=1) + "\n")


def test_json_limit_and_inferred_states(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(DATA / "states_debug0.pb.gz"), "--json", "-n", "3")
    doc = json.loads(out)
    assert code == 0 and doc["total"] == 35 and len(doc["groups"]) == 3
    assert doc["group_count"] == 24 and doc["format"] == "debug=0"
    assert all(g["state_inferred"] for g in doc["groups"] if g["state"])
    labelled = load_dump((DATA / "states_debug0.pb.gz").read_bytes(), "pb")
    assert any(g.labels for g in labelled.groups)


def test_json_labels_and_leaks(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(DATA / "leak_debug2.txt"), "--json")
    doc = json.loads(out)
    leaked = [g for g in doc["groups"] if g["leaked"]]
    assert sum(g["leaked"] for g in leaked) == 4
    assert all(g["suspicious"] for g in leaked)
    _, out, _ = run(capsys, str(DATA / "states_labels_debug2.txt"), "--json")
    labels = [g["labels"] for g in json.loads(out)["groups"] if g["labels"]]
    assert {"tenant": "acme", "worker": "labelled"} in labels


# --- human report --------------------------------------------------------------------------------


def test_human_report_golden(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, golden: Golden
) -> None:
    monkeypatch.chdir(DATA)
    code, out, err = run(capsys, "leak_debug2.txt", "-n", "30")
    assert code == 0 and err == ""
    golden.check("goroutines/leak_debug2.txt", out)
    assert out.startswith("35 goroutines in 24 groups (debug=2 dump from leak_debug2.txt)\n")
    assert "suspicious: 3 groups holding 4 goroutines" in out
    assert "! all proven leaked by the runtime's goroutineleak detector" in out
    assert "created by main.start in goroutine 1  states/main.go:184" in out


def test_human_report_crash_and_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(DATA / "crash_panic.txt"), "-n", "1")
    assert code == 0
    assert "message: panic: first panic" in out
    assert "... 2 more groups (2 goroutines); -n shows more" in out


def test_human_report_flags_many_parked_and_long_waits() -> None:
    blocks = [
        b"goroutine %d [chan receive, %d minutes]:\nmain.w(0x%x)\n\t/a/m.go:3 +0x1\n\n"
        % (i, i % 30, i)
        for i in range(1, 151)
    ]
    blocks.append(b"goroutine 999 [IO wait, 90 minutes]:\nmain.r()\n\t/a/m.go:9 +0x1\n")
    dump = parse_text(b"".join(blocks))
    ranked = rank_groups(dump, SuspectOptions(many=100, long_wait_minutes=10))
    assert ranked[0].reasons == (
        "150 goroutines parked on channel (99% of all)",
        "blocked for up to 29 minutes",
    )
    assert not ranked[1].suspicious  # long IO waits are normal for servers


def test_human_report_escapes_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(DATA / "handmade_header_variants.txt"))
    assert "tenant=\u03a3\\x1b]" in out and "\x1b" not in out


def test_stdin_source(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (DATA / "crash_deadlock.txt").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    code, out, _ = run(capsys, "-", "--json")
    assert code == 0 and json.loads(out)["format"] == "crash"


def test_truncated_dump_warns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = (DATA / "states_debug2.txt").read_bytes()
    cut = tmp_path / "cut.txt"
    cut.write_bytes(raw[: len(raw) // 2])
    code, out, err = run(capsys, str(cut), "--json")
    assert code == 0 and json.loads(out)["truncated"] is True
    assert err.startswith("leakhunter: warning: ") and err.count("\n") == 1
    code, out, _ = run(capsys, str(cut))
    assert "warning: the dump is truncated" in out


# --- bad input: one line, exit 2, never a traceback -----------------------------------------------


def _bomb() -> bytes:
    return gzip.compress(b"\0" * (8 << 20), compresslevel=9)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty input"),
        (random.Random(7).randbytes(4096), ""),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "a PNG image"),
        (b"goroutine 12 [chan rec", "truncated"),
        (b"some log line\nanother\n", "not a Go goroutine dump"),
        (gzip.compress(b"\x00\x01\x02 junk")[:-6], "gzip"),
        (b"goroutine profile: total 7\n", "no stack follows"),
        (b"__BOMB__", "limit"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    content: bytes,
    problem: str,
) -> None:
    if content == b"__BOMB__":
        monkeypatch.setenv("LEAKHUNTER_MAX_INPUT_BYTES", str(1 << 20))
        content = _bomb()
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    code, out, err = run(capsys, str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"leakhunter: {path}: ") and err.count("\n") == 1, err
    assert problem in err and "Traceback" not in err


def test_missing_file_and_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "/nonexistent/dump.txt")
    assert code == 2 and err == (
        "leakhunter: /nonexistent/dump.txt: cannot read (No such file or directory)\n"
    )
    with pytest.raises(SystemExit) as exc:
        main(["goroutines", str(DATA / "states_debug2.txt"), "-n", "0"])
    assert exc.value.code == 2


def test_unreachable_url_is_one_target_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "127.0.0.1:9", "--timeout", "2")
    assert code == 2 and out == ""
    assert err.startswith("leakhunter: GET http://127.0.0.1:9/debug/pprof/goroutine?debug=2: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("source", "url"),
    [
        ("127.0.0.1:6060", "http://127.0.0.1:6060/debug/pprof/goroutine?debug=2"),
        ("localhost:6060/", "http://localhost:6060/debug/pprof/goroutine?debug=2"),
        ("[::1]:6060", "http://[::1]:6060/debug/pprof/goroutine?debug=2"),
        ("http://svc:6060", "http://svc:6060/debug/pprof/goroutine?debug=2"),
        ("https://svc/", "https://svc/debug/pprof/goroutine?debug=2"),
        ("http://svc:6060/debug/pprof/goroutine", "http://svc:6060/debug/pprof/goroutine"),
        (
            "svc:6060/debug/pprof/goroutineleak?debug=1",
            "http://svc:6060/debug/pprof/goroutineleak?debug=1",
        ),
        ("dump.txt", None),
        ("/tmp/dump.txt", None),
        ("-", None),
    ],
)
def test_dump_urls(source: str, url: str | None) -> None:
    assert dump_url(source) == url


# --- a live Go program -----------------------------------------------------------------------


def _parked(doc: dict[str, Any]) -> int:
    """Goroutines running the states program's own code (a debug=0 profile has no creator)."""
    return sum(
        g["count"]
        for g in doc["groups"]
        if any(f["function"].startswith("main.") for f in g["stack"])
    )


@pytest.mark.go
@pytest.mark.slow
def test_url_source_against_a_real_go_program(capsys: pytest.CaptureFixture[str]) -> None:
    from goprogs import states

    with states() as srv:
        host_port = srv.base.removeprefix("http://")
        code, out, err = run(capsys, host_port, "--json")
        assert code == 0 and err == ""
        doc = json.loads(out)
        assert doc["format"] == "debug=2" and doc["total"] >= 35
        code, out, _ = run(capsys, srv.base + "/debug/pprof/goroutine", "--json")
        proto = json.loads(out)
        assert proto["format"] == "debug=0"
        # The program's own goroutines are parked for good and must agree exactly; the HTTP
        # server's connection goroutines come and go between two fetches (the first
        # request's connection may still be closing when the second is served).
        assert _parked(proto) == _parked(doc) and _parked(doc) >= 30
        code, out, _ = run(capsys, srv.base + "/debug/pprof/goroutineleak?debug=1")
        assert code == 0 and "proven leaked" in out
