package main

// gRPC and Gin leak scenarios.
import (
	_ "github.com/leakhunter/zoo/scenarios/ginasync"
	_ "github.com/leakhunter/zoo/scenarios/ginjournal"
	_ "github.com/leakhunter/zoo/scenarios/ginretain"
	_ "github.com/leakhunter/zoo/scenarios/grpcconn"
	_ "github.com/leakhunter/zoo/scenarios/grpcstream"
)
