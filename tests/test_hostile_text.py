"""Class 10 of issue 15: control characters from profiles never reach a terminal or XML raw."""

from __future__ import annotations

import dataclasses
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hostile_helpers import lh
from leakhunter.formats.pprof import encode
from leakhunter.report.junit import render_junit
from leakhunter.report.progress import WatchProgress
from leakhunter.report.safe_text import for_terminal, for_xml
from leakhunter.report.terminal import render_verdict_text
from pprof_helpers import hand_profile
from report_builders import sample_verdict

# Retitles the terminal (OSC), clears it (CSI), a NUL and a one-byte CSI (C1).
HOSTILE = "main.\x1b]0;pwned\x07evil\x1b[2J\x00x\x9b31m"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _hostile_verdict():  # type: ignore[no-untyped-def]
    v = sample_verdict()
    f = v.findings[0]
    assert f.culprit is not None
    culprit = dataclasses.replace(f.culprit, function=HOSTILE, file="/src/\x1b[31mx.go")
    stack = (culprit, *f.stack[1:])
    finding = dataclasses.replace(f, culprit=culprit, stack=stack, evidence=(HOSTILE,))
    return dataclasses.replace(v, findings=(finding, *v.findings[1:]), target="http://\x1b[2J")


def test_top_escapes_function_names(tmp_path: Path) -> None:
    profile = hand_profile([((HOSTILE, "main.main"), (100,)), (("main.ok", "main.main"), (50,))])
    path = tmp_path / "hostile.pb.gz"
    path.write_bytes(encode(profile))
    proc = lh("top", str(path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not RAW.search(proc.stdout.replace("\n", "")), repr(proc.stdout)
    assert "\\x1b]0;pwned" in proc.stdout


def test_the_verdict_report_escapes_names() -> None:
    text = render_verdict_text(_hostile_verdict(), width=120, color=False)
    assert not RAW.search(text.replace("\n", "")), repr(text)
    assert "\\x1b]0;pwned" in text


def test_the_live_view_escapes_suspects_and_errors() -> None:
    out = io.StringIO()
    progress = WatchProgress("http://127.0.0.1:1", 3, 1.0, stream=out, live=False, color=False)
    progress.set_suspects([f"leak heap: {HOSTILE} (0.90)"])
    assert not RAW.search(out.getvalue().replace("\n", "")), repr(out.getvalue())


def test_junit_with_hostile_names_is_well_formed_xml() -> None:
    xml = render_junit(_hostile_verdict())
    root = ET.fromstring(xml.encode())  # raises on a NUL or ESC
    assert "pwned" in ET.tostring(root, encoding="unicode")


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=60))
def test_escaped_text_has_no_control_characters_and_is_xml(text: str) -> None:
    shown = for_terminal(text)
    assert not RAW.search(shown.replace("\n", ""))
    assert not re.search("[\ud800-\udfff]", shown)
    el = ET.Element("t", name=for_xml(text))
    el.text = for_xml(text)
    ET.fromstring(ET.tostring(el, encoding="unicode"))
