"""Rule library: name the leak pattern of a finding, explain it, and give the fix.

Rules are data (TOML files under ``builtin/`` plus user rule dirs); the engine
matches them against findings and the most specific one wins.
"""

from __future__ import annotations

from leakhunter.rules.engine import Match, apply_rules, best_match
from leakhunter.rules.facts import SessionFacts, finding_facts
from leakhunter.rules.loader import (
    ENV_VAR,
    builtin_rules,
    check_paths,
    load_rules,
    parse_rules,
    rule_dirs_from_env,
)
from leakhunter.rules.model import Conditions, Rule, SessionGroup

__all__ = [
    "ENV_VAR",
    "Conditions",
    "Match",
    "Rule",
    "SessionFacts",
    "SessionGroup",
    "apply_rules",
    "best_match",
    "builtin_rules",
    "check_paths",
    "finding_facts",
    "load_rules",
    "parse_rules",
    "rule_dirs_from_env",
]
