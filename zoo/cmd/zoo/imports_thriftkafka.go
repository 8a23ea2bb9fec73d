package main

// Thrift and Kafka scenarios.
import (
	_ "github.com/leakhunter/zoo/scenarios/kafkapermsg"
	_ "github.com/leakhunter/zoo/scenarios/kafkaqueue"
	_ "github.com/leakhunter/zoo/scenarios/kafkasuccesses"
	_ "github.com/leakhunter/zoo/scenarios/thriftchurn"
	_ "github.com/leakhunter/zoo/scenarios/thriftclients"
)
