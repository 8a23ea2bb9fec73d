package kafkapermsg

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/leakhunter/zoo/internal/mockkafka"
	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "kafka-goroutine-per-message",
		Story: "payments ledger hands every audit event to its own goroutine that produces it with a synchronous sarama producer; Kafka acks 4 a second, the ledger posts 100: goroutines and their events pile up",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "kafka-goroutine-per-message-fixed",
		Story: "the fix of kafka-goroutine-per-message: 4 writer goroutines drain a bounded queue of 64 events; a full queue drops (and counts) the event",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
	zoo.RegisterPeer(brokerPeer, serveBroker)
}

const (
	auditTopic = "ledger-audit"
	brokerPeer = "kafka-goroutine-per-message/broker"
	// brokerLatency is how long the overloaded cluster takes to acknowledge
	// a produce request (acks=all, a follower lagging behind).
	brokerLatency = 250 * time.Millisecond
)

func serveBroker(ctx context.Context, ln net.Listener) error {
	return mockkafka.ServeSlowCluster(ctx, ln, auditTopic, 1, brokerLatency)
}

// Ledger posts transactions and audits each one.
type Ledger struct {
	audit    *AuditWriter
	snapshot string
	posted   int64
}

// Post books one transaction and emits its audit event.
func (l *Ledger) Post(n int) {
	evt := &AuditEvent{
		TxID:      fmt.Sprintf("tx-%010d", n),
		Account:   fmt.Sprintf("acct-%06d", n%50000),
		AmountMin: int64(100 + n%99900),
		Currency:  "EUR",
		PostedAt:  time.Now(),
		Memo:      "card settlement",
		Snapshot:  l.snapshot,
	}
	if err := l.audit.Emit(evt); err == nil {
		l.posted++
	}
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	// The cluster outlives the load; it runs in a peer process so that the
	// mock broker's request history is not part of the ledger's heap.
	addr, err := zoo.StartPeer(context.WithoutCancel(ctx), brokerPeer)
	if err != nil {
		return err
	}
	w, err := NewAuditWriter([]string{addr}, auditTopic)
	if err != nil {
		return err
	}
	if fixed {
		w.startWriters(4, 64)
	}
	l := &Ledger{audit: w, snapshot: strings.Repeat("b", env.Bytes(4<<10))}
	zoo.Every(ctx, env.RateOr(100), l.Post)
	return nil
}
