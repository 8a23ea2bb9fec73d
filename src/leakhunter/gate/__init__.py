"""The CI gate: known findings (allowlist, baseline) and the pass/fail decision."""
