// Programs that reproduce the leak patterns of the rule library with the real Go
// runtime (tests/test_rules_goprogs.py). Standard library only.
//
// The go line stays at 1.22 on purpose: it keeps the pre-Go-1.23 timer semantics
// (unstopped timers and tickers are never collected) that the time.After and
// ticker-heap patterns reproduce; nothing else here depends on it.
module leakhunter.test/goprogs_rules

go 1.22
