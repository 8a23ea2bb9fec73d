"""Render a report as one self-contained HTML file (CSS, script and data inlined; no network).

The page's text is rendered here with jinja2 (it reads without scripts); its
charts and flame graphs are drawn by a small inlined script from the data of
``html_data``, embedded as JSON. Opening stays fast on big sessions because
the flame graphs arrive pruned and the script draws only visible frames.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from leakhunter.report.data import ReportData
from leakhunter.report.html_data import html_data

__all__ = ["HtmlRenderer", "embed_json", "render_html", "report_context"]

_ASSETS = "assets"


def embed_json(obj: Any) -> str:
    """Return JSON that is safe inside a <script> element (no "</script>", no "<!--")."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _asset(name: str) -> str:
    return (resources.files("leakhunter.report") / _ASSETS / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.from_string(_asset("report.html.j2"))


def report_context(report: ReportData) -> dict[str, Any]:
    """Return the variables ``report.html.j2`` renders a report from.

    serve's target page extends the same template (its blocks add a top bar
    and the target's history), so both pages show one report, built once here.
    """
    from markupsafe import Markup

    data = html_data(report)
    return {
        "d": data,
        "v": data["verdict"],
        "css": Markup(_asset("report.css")),
        "js": Markup(_asset("report.js")),
        "data_json": Markup(embed_json(data)),
    }


def render_html(report: ReportData) -> str:
    """Return the HTML page of a report."""
    text: str = _template().render(**report_context(report))
    return text


class HtmlRenderer:
    """The HTML report as a file format (``--html PATH``)."""

    def render(self, report: ReportData) -> bytes:
        """Return the page, UTF-8 encoded."""
        return render_html(report).encode()
