"""Golden files for renderers: the `golden` fixture and the --update-golden option.

``golden.check("terminal/name.txt", text, replace={"/tmp/x": "<SESSION>"})``
compares text, normalised, with tests/data/golden/terminal/name.txt;
``pytest --update-golden`` (or LEAKHUNTER_UPDATE_GOLDEN=1) rewrites the files
instead. Normalisation makes goldens machine-independent: the given paths
become placeholders, ISO timestamps become <TIMESTAMP>, and the tool's
version becomes <VERSION>.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from leakhunter import __version__

GOLDEN = Path(__file__).parent / "data" / "golden"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output instead of comparing",
    )


def normalise(text: str, replace: Mapping[str, str] = {}) -> str:
    # longest first, so /a/b/c is replaced before /a/b
    for old in sorted(replace, key=len, reverse=True):
        if old:
            text = text.replace(old, replace[old])
    text = _TIMESTAMP.sub("<TIMESTAMP>", text)
    text = text.replace(f"leakhunter {__version__}", "leakhunter <VERSION>")
    text = text.replace(f'"version": "{__version__}"', '"version": "<VERSION>"')
    return text


class Golden:
    def __init__(self, update: bool, root: Path = GOLDEN) -> None:
        self.update = update
        self.root = root

    def check(self, name: str, text: str, replace: Mapping[str, str] = {}) -> None:
        text = normalise(text, replace)
        path = self.root / name
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing: run pytest --update-golden")
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"golden/{name}",
                    "output",
                    n=2,
                )
            )
            pytest.fail(
                f"output differs from golden/{name} (pytest --update-golden to accept):\n"
                + diff[:6000],
                pytrace=False,
            )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    update = bool(request.config.getoption("--update-golden")) or (
        os.environ.get("LEAKHUNTER_UPDATE_GOLDEN") == "1"
    )
    return Golden(update)
