r"""Allowlist files: known findings a build may ship with, each with a reason and an expiry.

```toml
[[allow]]
rule = "GO-UNBOUNDED-CACHE"          # and/or
culprit = "cache\\.\\(\\*Store\\)\\.Put"   # regex searched in the culprit function
reason = "bounded by the tenant count; ticket OPS-123"
expires = 2026-12-31
```
An entry needs a reason, an expiry date and at least one of rule/culprit. An
expired entry fails the build whether or not it matches: it must be renewed or
removed, so exceptions cannot outlive their reason silently.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from leakhunter.analyze.verdict import Finding
from leakhunter.errors import FormatError, UsageError
from leakhunter.formats.bounded_read import read_capped

__all__ = ["AllowEntry", "load_allowlist"]

_MAX_BYTES = 16 << 20  # an allowlist is a few KB; a FIFO or device must not fill memory


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One allowlist entry."""

    reason: str
    expires: dt.date
    rule: str | None = None
    culprit: re.Pattern[str] | None = None
    index: int = 0

    def expired(self, today: dt.date) -> bool:
        """Return True once the expiry date has passed."""
        return today > self.expires

    def matches(self, f: Finding) -> bool:
        """Return True when every condition of the entry holds for the finding."""
        if self.rule is not None and (f.rule is None or f.rule.id != self.rule):
            return False
        if self.culprit is not None:
            name = f.culprit.function if f.culprit else ""
            if not self.culprit.search(name):
                return False
        return True

    def describe(self) -> str:
        """Return a short description for messages."""
        what = [
            f"rule {self.rule}" if self.rule else "",
            f"culprit /{self.culprit.pattern}/" if self.culprit else "",
        ]
        return f"allow[{self.index}] ({', '.join(w for w in what if w)})"


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise UsageError(f"{where}: expires must be a date like 2026-12-31, not {value!r}")


def load_allowlist(path: str | Path) -> tuple[AllowEntry, ...]:
    """Read and validate an allowlist file.

    Raises:
        UsageError: unreadable file, bad TOML, or an invalid entry (with its index).
    """
    p = Path(path)
    try:
        doc = tomllib.loads(read_capped(str(p), _MAX_BYTES).decode("utf-8", "replace"))
    except FormatError as exc:
        raise UsageError(f"cannot read allowlist {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{p}: invalid TOML ({exc})") from None
    raw = doc.get("allow", [])
    if not isinstance(raw, list):
        raise UsageError(f"{p}: 'allow' must be an array of tables ([[allow]])")
    entries = []
    for i, item in enumerate(raw):
        where = f"{p}: allow[{i}]"
        if not isinstance(item, dict):
            raise UsageError(f"{where}: must be a table")
        unknown = set(item) - {"rule", "culprit", "reason", "expires"}
        if unknown:
            raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{where}: needs a reason")
        if "expires" not in item:
            raise UsageError(f"{where}: needs an expiry date (expires = 2026-12-31)")
        rule, culprit = item.get("rule"), item.get("culprit")
        if rule is None and culprit is None:
            raise UsageError(f"{where}: needs a rule id or a culprit regex")
        try:
            pattern = re.compile(str(culprit)) if culprit is not None else None
        except re.error as exc:
            raise UsageError(f"{where}: culprit is not a valid regex ({exc})") from None
        entries.append(
            AllowEntry(
                reason=reason.strip(),
                expires=_date(item["expires"], where),
                rule=str(rule) if rule is not None else None,
                culprit=pattern,
                index=i,
            )
        )
    return tuple(entries)
