"""Baseline files: the findings a service already had, so only new ones fail the build.

A finding's signature is (kind, rule id, culprit function): stable across runs,
unlike growth figures or finding ids derived from full stacks.
"""

from __future__ import annotations

import json
from pathlib import Path

from leakhunter.analyze.verdict import Finding, FindingVerdict
from leakhunter.errors import FormatError, UsageError
from leakhunter.formats.bounded_read import read_capped
from leakhunter.report.output_file import write_output

__all__ = ["BASELINE_SCHEMA", "read_baseline", "signature", "write_baseline"]

BASELINE_SCHEMA = "leakhunter.baseline/1"


def signature(f: Finding) -> str:
    """Return the stable identity of a finding across runs."""
    rule = f.rule.id if f.rule else "-"
    culprit = f.culprit.function if f.culprit else "-"
    return f"{f.kind.value}|{rule}|{culprit}"


def write_baseline(path: str | Path, findings: tuple[Finding, ...]) -> int:
    """Write the leak findings' signatures; return how many were written."""
    sigs = sorted({signature(f) for f in findings if f.verdict is FindingVerdict.LEAK})
    doc = {"schema": BASELINE_SCHEMA, "findings": [{"signature": s} for s in sigs]}
    write_output(path, (json.dumps(doc, indent=2) + "\n").encode())
    return len(sigs)


def read_baseline(path: str | Path) -> frozenset[str]:
    """Read a baseline file's signatures.

    Raises:
        UsageError: unreadable or malformed file.
    """
    p = Path(path)
    try:
        doc = json.loads(read_capped(str(p), 16 << 20))  # a FIFO or device: capped
        if doc.get("schema") != BASELINE_SCHEMA:
            raise ValueError(f"schema is not {BASELINE_SCHEMA}")
        return frozenset(str(item["signature"]) for item in doc["findings"])
    except FormatError as exc:
        raise UsageError(f"cannot read baseline {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{p}: not a leakhunter baseline ({exc})") from None
