"""The zoo manifest: what each scenario is, what it leaks and what should grow.

Entries come from ``zoo/scenarios.toml`` and the ``zoo/manifest/*.toml``
fragments (``[[scenario]]`` tables); a name in both counts once, the merged
file winning. This is ground truth for tests and benchmarks, not detector input.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from leakhunter.errors import FormatError
from leakhunter.harness.build import zoo_dir

__all__ = [
    "RUNTIMES",
    "VERDICTS",
    "ZooScenario",
    "find_scenario",
    "load_manifest",
    "manifest_files",
]

VERDICTS = ("leak", "churn", "no-leak")
RUNTIMES = ("go", "python")


@dataclass(frozen=True, slots=True)
class ZooScenario:
    """One zoo scenario's ground truth.

    ``kinds`` are finding kinds it should produce (heap, goroutine, churn),
    ``culprits`` the application functions a finding should blame, ``grows``
    the whole-process figures that rise while it runs ("heap", "goroutines").
    ``fixed_of`` names the leak scenario whose fix this one runs (a control).
    """

    name: str
    verdict: str
    family: str = ""
    kinds: tuple[str, ...] = ()
    culprits: tuple[str, ...] = ()
    rule: str | None = None
    grows: tuple[str, ...] = ()
    story: str = ""
    source: str = ""
    runtime: str = "go"
    module: str = ""
    fixed_of: str | None = None  # the leak scenario this one is the fixed variant of

    @property
    def is_fixed_variant(self) -> bool:
        """Return True for a leak scenario's fixed variant (same service, the fix applied)."""
        return self.fixed_of is not None

    @property
    def is_control(self) -> bool:
        """Return True for a benign scenario (verdict no-leak)."""
        return self.verdict == "no-leak"


def _strings(value: object, source: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise FormatError(source, f"{key} must be a string or a list of strings")


def _entry(raw: object, source: str) -> ZooScenario:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise FormatError(source, "[[scenario]] entry without a name")
    name = raw["name"]
    verdict = raw.get("verdict")
    if verdict not in VERDICTS:
        raise FormatError(source, f"scenario {name}: verdict must be one of {', '.join(VERDICTS)}")
    rule = raw.get("rule")
    runtime = str(raw.get("runtime", "go"))
    if runtime not in RUNTIMES:
        raise FormatError(source, f"scenario {name}: runtime must be one of {', '.join(RUNTIMES)}")
    module = str(raw.get("module", ""))
    fixed_of = raw.get("fixed_of")
    if fixed_of is not None and (not isinstance(fixed_of, str) or verdict != "no-leak"):
        raise FormatError(source, f"scenario {name}: fixed_of names a leak; the variant is no-leak")
    if runtime == "python" and not module:
        raise FormatError(source, f"scenario {name}: a python scenario needs a module")
    return ZooScenario(
        name=name,
        verdict=str(verdict),
        family=str(raw.get("family", "")),
        kinds=_strings(raw.get("kinds"), source, "kinds"),
        culprits=_strings(raw.get("culprits"), source, "culprits"),
        rule=str(rule) if rule else None,
        grows=_strings(raw.get("grows"), source, "grows"),
        story=str(raw.get("story", "")),
        source=source,
        runtime=runtime,
        module=module,
        fixed_of=fixed_of,
    )


def manifest_files(root: Path | None = None) -> tuple[Path, ...]:
    """Return the manifest files present: scenarios.toml first, then fragments sorted."""
    root = root or zoo_dir()
    files = [root / "scenarios.toml"] if (root / "scenarios.toml").is_file() else []
    fragments = root / "manifest"
    if fragments.is_dir():
        files += sorted(fragments.glob("*.toml"))
    return tuple(files)


def find_scenario(name: str, root: Path | None = None) -> ZooScenario | None:
    """Return the manifest entry of a scenario, or None when the manifest lacks it."""
    for entry in load_manifest(root):
        if entry.name == name:
            return entry
    return None


def load_manifest(root: Path | None = None) -> tuple[ZooScenario, ...]:
    """Load every scenario of the zoo manifest, in file order, names unique.

    Raises:
        FormatError: a manifest file is not valid TOML or an entry is malformed.
    """
    seen: dict[str, ZooScenario] = {}
    for path in manifest_files(root):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise FormatError(str(path), f"not a readable TOML manifest ({exc})") from None
        entries = doc.get("scenario", [])
        if not isinstance(entries, list):
            raise FormatError(str(path), "'scenario' must be an array of tables ([[scenario]])")
        for raw in entries:
            entry = _entry(raw, str(path))
            seen.setdefault(entry.name, entry)
    for entry in seen.values():
        if entry.fixed_of is not None and entry.fixed_of not in seen:
            raise FormatError(entry.source, f"{entry.name}: fixed_of names no scenario")
    return tuple(seen.values())
