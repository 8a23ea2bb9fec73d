"""serve's two pages, rendered from the same documents as its JSON API.

The fleet page (``/``) is a shell with the ``/api/targets`` document it was
answered with embedded; its script draws the table from that document and
then polls the API for the next one, so the page and the API never disagree
and a new scrape shows up without a reload. The target page
(``/targets/{id}``) is the report ``watch --html`` writes, rendered from the
report's own template (extended with a top bar and the target's history from
the ``/api/targets/{id}`` document), so both stay one report.

Templates, styles and the script are package files next to this module; the
pages load nothing from anywhere else (they work offline, and serve's
Content-Security-Policy allows nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import resources
from typing import Any

from leakhunter.report.data import ReportData
from leakhunter.report.html import embed_json, report_context
from leakhunter.serve.history import rfc3339
from leakhunter.serve.svg import history_chart
from leakhunter.serve.worker import TargetStatus
from leakhunter.units import format_duration, format_value

__all__ = ["Pages", "severity"]

_ORDER = {"leak": 0, "suspect": 1, "down": 2, "inconclusive": 3, "pending": 4, "ok": 5}


def severity(s: TargetStatus) -> tuple[int, str]:
    """Sort key: leaks first, then suspects, down targets, and the rest by id."""
    return _ORDER.get(s.status, 9), s.id


def _asset(name: str) -> str:
    return (resources.files("leakhunter.serve") / "templates" / name).read_text(encoding="utf-8")


def _value(value: float | None, unit: str) -> str:
    return "" if value is None else format_value(value, unit)


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(seconds)


class Pages:
    """The jinja2 environment of serve's pages (built once per app)."""

    def __init__(self) -> None:
        import jinja2

        # the report's own settings: a page extending its template renders it unchanged
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(
                [
                    jinja2.PackageLoader("leakhunter.serve", "templates"),
                    jinja2.PackageLoader("leakhunter.report", "assets"),
                ]
            ),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["value"] = _value
        self.env.filters["duration"] = _duration
        self.env.filters["utc"] = rfc3339
        from markupsafe import Markup

        self.css = Markup(_asset("ui.css"))
        self.fleet_js = Markup(_asset("fleet.js"))

    def fleet(self, doc: Mapping[str, Any], nonce: str, poll_seconds: float, etag: str) -> str:
        """Return the fleet page, drawn by its script from ``doc`` (a leakhunter.targets/1).

        ``etag`` is the document's, so the page's first poll is a cheap 304
        when nothing changed since it was answered.
        """
        from markupsafe import Markup

        text: str = self.env.get_template("fleet.html.j2").render(
            n=len(doc["targets"]),
            css=self.css,
            js=self.fleet_js,
            data_json=Markup(embed_json(doc)),
            nonce=nonce,
            poll=poll_seconds,
            etag=etag,
        )
        return text

    def target(
        self,
        status: TargetStatus,
        doc: Mapping[str, Any],
        report: ReportData | None,
        nonce: str,
    ) -> str:
        """Return a target's page: its report (when judged) and its history.

        ``doc`` is the target's ``/api/targets/{id}`` document (with
        ``history``), ``status`` what the fleet sees of it.
        """
        charts = {
            name: history_chart(s["t"], s["v"], unit, _restarts(doc["history"]["runs"]))
            for name, unit in (("heap", "bytes"), ("goroutines", "goroutines"))
            if (s := doc["history"]["series"][name])["t"]
        }
        context: dict[str, Any] = {
            "t": doc,
            "s": status,
            "ui_css": self.css,
            "nonce": nonce,
            "charts": charts,
        }
        if report is None:
            name = "target_pending.html.j2"
        else:
            name = "target.html.j2"
            context.update(report_context(report))
        text: str = self.env.get_template(name).render(**context)
        return text


def _restarts(runs: Sequence[Mapping[str, Any]]) -> list[float]:
    """Return when each run after the first began (a restart), as Unix times."""
    return [datetime.fromisoformat(str(r["start"])).timestamp() for r in runs[1:]]
