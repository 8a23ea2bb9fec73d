package main

// Standard-library scenarios.
import (
	_ "github.com/leakhunter/zoo/scenarios/boundedlru"
	_ "github.com/leakhunter/zoo/scenarios/burstyload"
	_ "github.com/leakhunter/zoo/scenarios/cachefill"
	_ "github.com/leakhunter/zoo/scenarios/chanrecv"
	_ "github.com/leakhunter/zoo/scenarios/ctxtimeout"
	_ "github.com/leakhunter/zoo/scenarios/fdloop"
	_ "github.com/leakhunter/zoo/scenarios/httpbody"
	_ "github.com/leakhunter/zoo/scenarios/mapcache"
	_ "github.com/leakhunter/zoo/scenarios/periodicbatch"
	_ "github.com/leakhunter/zoo/scenarios/poolgrowth"
	_ "github.com/leakhunter/zoo/scenarios/poolnoreset"
	_ "github.com/leakhunter/zoo/scenarios/sleepers"
	_ "github.com/leakhunter/zoo/scenarios/slowleak"
	_ "github.com/leakhunter/zoo/scenarios/syncpool"
	_ "github.com/leakhunter/zoo/scenarios/tickerleak"
	_ "github.com/leakhunter/zoo/scenarios/workerpool"
)
