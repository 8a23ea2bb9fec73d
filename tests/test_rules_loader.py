"""Rule files: loading, validation as file:line problems, user dirs, and the rules command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from leakhunter.cli.main import main
from leakhunter.errors import RuleError
from leakhunter.rules import builtin_rules, check_paths, load_rules, parse_rules, rule_dirs_from_env

SESSIONS = Path(__file__).parent / "data" / "sessions"

GOOD = """\
schema = "leakhunter.rules/1"

[[rule]]
id = "ACME-QUOTE-CACHE"
title = "Quote cache without a bound"
explanation = \"\"\"
The quote service caches responses forever. [[rule]] in a string is not a table.
\"\"\"
fix = "Use acme/lru."
sketch = '''
cache := lru.New(1000)
'''
confidence = -0.1
references = ["https://wiki.acme/lru"]

[[rule.when]]  # as specific as the builtin cache rule: a user rule wins the tie
kind = ["heap"]
culprit = 'mapcache\\.cacheResponse$'
alloc = "retained"
objects = "growing"

[[rule.when]]
kind = "goroutine"
stack = ['^runtime\\.chanrecv1$', 'mapcache\\.']
wait = ["channel"]
leaked = true
session = { stack = ['^main\\.'], wait = ["select"], min_count = 3 }
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(text: str) -> list[str]:
    return list(parse_rules(text, "r.toml")[1])


def test_parse_good_file() -> None:
    rules, errs = parse_rules(GOOD, "r.toml")
    assert errs == ()
    (r,) = rules
    assert (r.id, r.line, r.confidence, r.builtin) == ("ACME-QUOTE-CACHE", 3, -0.1, False)
    assert (
        r.explanation.startswith("The quote service")
        and r.sketch.strip() == "cache := lru.New(1000)"
    )
    assert [c.line for c in r.when] == [16, 22]
    heap, gor = r.when
    assert heap.kind == ("heap",) and heap.culprit is not None
    assert gor.kind == ("goroutine",) and len(gor.stack) == 2 and gor.leaked is True
    assert (
        gor.session is not None and gor.session.min_count == 3 and gor.session.wait == ("select",)
    )


def test_syntax_error_is_reported_at_its_line() -> None:
    (got,) = problems('[[rule]]\nid = "GO-A-B"\ntitle = "x\n')
    assert got.startswith("r.toml:3: TOML syntax error: ")


BROKEN = """\
[[rule]]
id = "not kebab"
title = "t"
explanation = \"\"\"
[[rule.when]]
kind = "inside a string"
\"\"\"
fix = "f"
confidnce = 0.1
references = 5

[[rule.when]]
kind = ["heap", "stack"]
stack = ['(unclosed']
wait = ["select", "sleeping"]
alloc = "lots"
min_object_bytes = -1
leaked = "yes"
library = []
color = "red"

[[rule.when]]

[rule.when.session]
wait = ["io"]
min_count = 0
extra = 1

[[rule]]
title = "missing id, fix and explanation"
confidence = 3

[[rule]]
id = "GO-NO-WHEN"
title = "t"
explanation = "e"
fix = "f"
"""


def test_schema_errors_point_at_their_lines() -> None:
    got = problems(BROKEN)
    expected = [
        "r.toml:2: id 'not kebab' must be UPPER-KEBAB like GO-X-Y",
        "r.toml:9: unknown key 'confidnce' in rule",
        "r.toml:10: 'references' must be a list of strings",
        "r.toml:13: 'kind': unknown value(s) ['stack']",
        "r.toml:14: 'stack': invalid regex /(unclosed/",
        "r.toml:15: 'wait': unknown value(s) ['sleeping']",
        "r.toml:16: 'alloc' must be one of ['churn', 'retained']",
        "r.toml:17: 'min_object_bytes' must be a positive integer",
        "r.toml:18: 'leaked' must be true or false",
        "r.toml:19: 'library' must be a module path or a list of them",
        "r.toml:20: unknown condition 'color'",
        "r.toml:24: session needs a 'stack' regex list",
        "r.toml:26: 'min_count' must be a positive integer",
        "r.toml:27: unknown key 'extra' in session",
        "r.toml:29: missing required key 'id'",
        "r.toml:31: 'confidence' must be a number from -1 to 1",
        "r.toml:33: a rule needs one or more [[rule.when]] tables",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in got), (want, got)
    assert all(p.startswith("r.toml:") for p in got)
    lines = [int(p.split(":")[1]) for p in got]
    assert lines == sorted(lines), "problems come in file order"


def test_empty_when_block_and_unknown_top_level_key() -> None:
    text = 'schema = "other/9"\nfoo = 1\n[[rule]]\nid = "GO-A-B"\ntitle = "t"\n'
    text += 'explanation = "e"\nfix = "f"\n[[rule.when]]\n'
    got = problems(text)
    assert "r.toml:1: schema must be 'leakhunter.rules/1'" in got
    assert "r.toml:2: unknown top-level key 'foo'" in got
    assert "r.toml:8: a [[rule.when]] block needs at least one condition" in got
    assert problems("") == ["r.toml:1: no rules: expected one or more [[rule]] tables"]


def test_runtime_must_be_go_or_python() -> None:
    text = '[[rule]]\nid = "ACME-A"\ntitle = "t"\nexplanation = "e"\nfix = "f"\n'
    text += 'runtime = "java"\n[[rule.when]]\nkind = ["heap"]\n'
    assert problems(text) == ["r.toml:6: 'runtime' must be one of: go, python"]
    assert problems(text.replace("java", "python")) == []


def test_duplicate_ids_in_a_file_and_across_files(tmp_path: Path) -> None:
    one = GOOD + GOOD.split("\n", 2)[2]
    assert any("duplicate rule id ACME-QUOTE-CACHE (first at line 3)" in p for p in problems(one))
    write(tmp_path, "a.toml", GOOD)
    write(tmp_path, "b.toml", GOOD)
    rules, errs = check_paths([tmp_path])
    assert len(rules) == 1
    assert len(errs) == 1 and errs[0].startswith(f"{tmp_path / 'b.toml'}:3: duplicate rule id")


def test_builtin_rules_load_and_validate() -> None:
    rules = builtin_rules()
    assert len(rules) >= 30 and len({r.id for r in rules}) == len(rules)
    assert all(r.builtin and r.source.startswith("builtin/") and r.line > 0 for r in rules)


def test_user_dirs_add_and_override_rules(tmp_path: Path) -> None:
    override = GOOD.replace("ACME-QUOTE-CACHE", "GO-UNBOUNDED-CACHE")
    write(tmp_path, "override.toml", override)
    write(tmp_path, "notes.txt", "not a rule file")
    rules = {r.id: r for r in load_rules([tmp_path])}
    assert rules["GO-UNBOUNDED-CACHE"].builtin is False
    assert rules["GO-UNBOUNDED-CACHE"].source == str(tmp_path / "override.toml")
    assert len(rules) == len(builtin_rules())
    assert [r.id for r in load_rules([tmp_path], builtin=False)] == ["GO-UNBOUNDED-CACHE"]


def test_broken_user_dir_raises_rule_error(tmp_path: Path) -> None:
    write(tmp_path, "bad.toml", BROKEN)
    with pytest.raises(RuleError) as err:
        load_rules([tmp_path])
    assert str(err.value).startswith(f"{tmp_path / 'bad.toml'}:2: id 'not kebab'")
    assert "more problem(s)" in str(err.value) and len(err.value.problems) > 10
    with pytest.raises(RuleError, match="no such file or directory"):
        load_rules([tmp_path / "missing"])


def test_rule_dirs_from_env() -> None:
    env = {"LEAKHUNTER_RULES": f"/a{os.pathsep}{os.pathsep}/b c{os.pathsep}"}
    assert rule_dirs_from_env(env) == ("/a", "/b c")
    assert rule_dirs_from_env({}) == ()


# -- the rules command ----------------------------------------------------------------


def test_rules_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path, "mine.toml", GOOD)
    assert main(["rules", "list", "--rules", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "TITLE", "SOURCE"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert rows["GO-GRPC-STREAM-NOT-CLOSED"].endswith("builtin/grpc.toml")
    assert rows["ACME-QUOTE-CACHE"].endswith(str(tmp_path / "mine.toml"))
    ids = list(rows)
    assert ids.index("GO-GRPC-STREAM-NOT-CLOSED") < ids.index("GO-GENERIC-HEAP-GROWTH")


def test_rules_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "GO-KAFKA-SUCCESSES-NOT-DRAINED"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("GO-KAFKA-SUCCESSES-NOT-DRAINED: Kafka async producer")
    for part in ("source: builtin/kafka.toml:", "confidence adjustment: +0.10", "fix:", "sketch:"):
        assert part in out
    assert "block 1 (specificity 12" in out and "session has: a goroutine group" in out
    assert "references:" in out and "https://pkg.go.dev/github.com/IBM/sarama" in out


def test_rules_show_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "show", "ticker"]) == 2
    err = capsys.readouterr().err
    assert "no rule with id ticker (did you mean GO-TICKER-NOT-STOPPED?)" in err


def test_rules_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    write(good, "mine.toml", GOOD)
    assert main(["rules", "check", str(good)]) == 0
    assert capsys.readouterr().out == "ok: 1 valid rule(s)\n"
    bad = tmp_path / "bad"
    bad.mkdir()
    write(bad, "a.toml", GOOD)
    write(bad, "broken.toml", BROKEN)
    write(bad, "syntax.toml", '[[rule]]\nid = "GO-A-B"\ntitle = "x\n')
    assert main(["rules", "check", str(bad)]) == 2
    cap = capsys.readouterr()
    lines = cap.out.splitlines()
    assert lines[0].startswith(f"{bad / 'broken.toml'}:2: ")
    assert f"{bad / 'syntax.toml'}:3: TOML syntax error" in lines[-1]
    assert all(line.split(":")[1].isdigit() for line in lines)
    assert "valid rule(s)" in cap.err
    assert main(["rules", "check", str(tmp_path / "nope")]) == 2


def test_analyze_with_user_rules(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "mine.toml", GOOD)
    session = str(SESSIONS / "unbounded-map-cache")
    assert main(["analyze", session, "--json", "-", "--rules", str(tmp_path)]) == 1
    doc = json.loads(capsys.readouterr().out)
    rule = doc["findings"][0]["rule"]
    assert rule["id"] == "ACME-QUOTE-CACHE" and rule["fix"] == "Use acme/lru."
    monkeypatch.setenv("LEAKHUNTER_RULES", str(tmp_path))
    assert main(["analyze", session, "--json", "-"]) == 1
    assert json.loads(capsys.readouterr().out)["findings"][0]["rule"]["id"] == "ACME-QUOTE-CACHE"
    monkeypatch.delenv("LEAKHUNTER_RULES")
    assert main(["analyze", session, "--json", "-"]) == 1
    rule = json.loads(capsys.readouterr().out)["findings"][0]["rule"]
    assert rule["id"] == "GO-UNBOUNDED-CACHE" and rule["matched"] and rule["references"]


def test_analyze_with_broken_rules_fails_cleanly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, "broken.toml", BROKEN)
    session = str(SESSIONS / "unbounded-map-cache")
    assert main(["analyze", session, "--rules", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"leakhunter: {tmp_path / 'broken.toml'}:2:")
