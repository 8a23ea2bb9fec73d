"""Analysis: per-site series, trend statistics, goroutine signals, culprit, verdict."""
