package main

// Blank imports register scenarios. Each batch of scenarios keeps its own file.
import (
	_ "github.com/leakhunter/zoo/internal/zoo"
)
