package main

// Bench-only scenarios: targets of bench/ that are not in the manifest (no verdict to score).
import (
	_ "github.com/leakhunter/zoo/scenarios/targetload"
)
