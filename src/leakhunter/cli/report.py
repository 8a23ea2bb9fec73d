"""`leakhunter report PATH --html PATH ...`: report files for a saved session or profile folder."""

from __future__ import annotations

import argparse
import sys
from typing import ClassVar

from leakhunter.cli._verdict_out import (
    add_analysis_options,
    add_output_options,
    analyze_options,
    requested_outputs,
    write_outputs,
)
from leakhunter.cli.base import EXIT_OK
from leakhunter.errors import UsageError
from leakhunter.report.renderer import RENDERERS

__all__ = ["ReportCommand"]


class ReportCommand:
    """Analyse a session folder and write the report files asked for (HTML, SARIF, JUnit...)."""

    name: ClassVar[str] = "report"
    help: ClassVar[str] = (
        "write HTML, SARIF, JUnit, pprof or JSON reports for a saved session or profile folder"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare PATH, one flag per report format and the analysis options."""
        parser.add_argument(
            "session",
            metavar="PATH",
            help="folder written by watch --out, or a folder of heap/goroutine profiles",
        )
        add_output_options(parser)
        add_analysis_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Write the files; exit 0 whatever the verdict (use check or analyze to gate on it)."""
        outputs = requested_outputs(args)
        if not outputs:
            flags = ", ".join(f"--{s.name} PATH" for s in RENDERERS)
            raise UsageError(f"report needs at least one output: {flags}")
        from leakhunter.pipeline import judge_path

        judged = judge_path(args.session, analyze_options(args))
        verdict = judged.verdict
        write_outputs(verdict, outputs, judged, source_root=args.source_root)
        if "-" not in outputs.values():
            print(f"{verdict.verdict.value}: {verdict.summary}")
        sys.stdout.flush()
        return EXIT_OK
