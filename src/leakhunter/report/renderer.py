"""The Renderer seam and the registry of file formats a report can be written in.

A renderer turns ReportData into the bytes of one file. Adding a format is one
module with a class that has ``render`` and one line in ``RENDERERS``; the CLI
derives its ``--NAME PATH`` flags from the registry and imports a renderer's
module only when that format is asked for (jinja2 is not loaded for --json).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from leakhunter.report.data import FLAMES, GOROUTINES, GatherOptions, ReportData
from leakhunter.report.output_file import write_output, write_stdout

__all__ = [
    "RENDERERS",
    "Renderer",
    "RendererSpec",
    "gather_options_for",
    "load_renderer",
    "spec",
    "write_reports",
]


class Renderer(Protocol):
    """Formats a report as one file; never computes on the data."""

    def render(self, report: ReportData) -> bytes:
        """Return the file's contents."""
        ...


@dataclass(frozen=True, slots=True)
class RendererSpec:
    """One registry line: the format's name (its CLI flag), where it lives, what it needs."""

    name: str
    module: str
    cls: str
    help: str
    wants: frozenset[str] = frozenset()  # session views it shows: FLAMES, GOROUTINES


_NONE: frozenset[str] = frozenset()

#: Every file format, one line each.
RENDERERS: tuple[RendererSpec, ...] = (
    RendererSpec(
        "json",
        "leakhunter.report.verdict_json",
        "JsonRenderer",
        "write the verdict as JSON (leakhunter.verdict/1); - = stdout",
    ),
    RendererSpec(
        "html",
        "leakhunter.report.html",
        "HtmlRenderer",
        "write a self-contained HTML report (charts, flame graphs, goroutines)",
        frozenset({FLAMES, GOROUTINES}),
    ),
    RendererSpec(
        "sarif",
        "leakhunter.report.sarif",
        "SarifRenderer",
        "write the findings as SARIF 2.1.0 (code scanning)",
    ),
    RendererSpec(
        "junit",
        "leakhunter.report.junit",
        "JunitRenderer",
        "write the findings as JUnit XML (one test case per check and finding)",
    ),
    RendererSpec(
        "pprof",
        "leakhunter.report.pprof_export",
        "PprofRenderer",
        "write the findings as a pprof profile (go tool pprof FILE)",
    ),
)


def spec(name: str) -> RendererSpec:
    """Return the registry line of a format; KeyError for an unknown one."""
    for s in RENDERERS:
        if s.name == name:
            return s
    raise KeyError(name)


def load_renderer(name: str) -> Renderer:
    """Import and instantiate the renderer of one format."""
    s = spec(name)
    renderer: Renderer = getattr(importlib.import_module(s.module), s.cls)()
    return renderer


def gather_options_for(names: list[str], *, goroutines: bool = False) -> GatherOptions:
    """Gather only the session views the requested formats show (plus goroutines if asked)."""
    wants = set().union(*(spec(n).wants for n in names)) if names else set()
    return GatherOptions(flames=FLAMES in wants, goroutines=goroutines or GOROUTINES in wants)


def write_reports(report: ReportData, outputs: Mapping[str, str | Path]) -> list[Path]:
    """Render each requested format into its path ("-" = stdout); return the files written.

    Regular files are written atomically, so a reader never sees half a report;
    devices, FIFOs and symlinks are handled as output_file says.

    Raises:
        OutputError: a file or standard output cannot be written.
    """
    written: list[Path] = []
    for name, path in outputs.items():
        data = load_renderer(name).render(report)
        if str(path) == "-":
            write_stdout(data)
            continue
        write_output(path, data)
        written.append(Path(path))
    return written
