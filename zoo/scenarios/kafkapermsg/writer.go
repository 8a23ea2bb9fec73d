// Package kafkapermsg is a payments ledger that writes an audit event to Kafka
// for every posted transaction. So that posting never waits for Kafka, the
// audit writer hands each event to a goroutine of its own, which produces it
// with a synchronous sarama producer. The producer is configured for strict
// ordering (one request in flight, one message per request) and the cluster
// acknowledges slowly (acks=all behind a lagging follower), so it delivers a
// few events a second while the ledger posts a hundred: the per-message
// goroutines, each holding its encoded event, pile up without bound.
package kafkapermsg

import (
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// AuditEvent is what compliance needs to know about a posted transaction.
type AuditEvent struct {
	TxID      string    `json:"tx_id"`
	Account   string    `json:"account"`
	AmountMin int64     `json:"amount_minor"`
	Currency  string    `json:"currency"`
	PostedAt  time.Time `json:"posted_at"`
	Memo      string    `json:"memo"`
	Snapshot  string    `json:"balance_snapshot"` // the account's balance sheet after posting
}

// AuditWriter ships audit events to Kafka.
type AuditWriter struct {
	producer sarama.SyncProducer
	topic    string
	// queue, when set (the fix), feeds a fixed set of writer goroutines; a
	// full queue drops the event instead of spawning another goroutine.
	queue     chan *sarama.ProducerMessage
	delivered atomic.Int64
	failed    atomic.Int64
	dropped   atomic.Int64
}

// NewAuditWriter connects a synchronous producer that keeps events in order:
// one request in flight to the partition leader, one message per request.
func NewAuditWriter(brokers []string, topic string) (*AuditWriter, error) {
	cfg := sarama.NewConfig()
	cfg.ClientID = "ledger-audit"
	cfg.ApiVersionsRequest = false
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Flush.MaxMessages = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return nil, err
	}
	return &AuditWriter{producer: p, topic: topic}, nil
}

// Emit encodes evt and sends it to Kafka without making the caller wait.
//
// BUG: one goroutine per event and nothing bounds them: when Kafka acknowledges
// slower than the ledger posts, every event waits in its own goroutine inside
// SendMessage, holding its encoded payload, and their number only grows.
func (w *AuditWriter) Emit(evt *AuditEvent) error {
	payload, err := json.Marshal(evt)
	if err != nil {
		return err
	}
	msg := &sarama.ProducerMessage{
		Topic: w.topic,
		Key:   sarama.StringEncoder(evt.Account),
		Value: sarama.ByteEncoder(payload),
	}
	if w.queue != nil {
		select {
		case w.queue <- msg:
		default:
			w.dropped.Add(1) // the fix: backpressure policy "drop and count"
		}
		return nil
	}
	go w.produce(msg)
	return nil
}

// produce delivers one message; it blocks until the broker acknowledges it.
func (w *AuditWriter) produce(msg *sarama.ProducerMessage) {
	if _, _, err := w.producer.SendMessage(msg); err != nil {
		if w.failed.Add(1) <= 10 {
			fmt.Fprintf(os.Stderr, "ledger-audit: produce failed: %v\n", err)
		}
		return
	}
	w.delivered.Add(1)
}

// startWriters is the fix: a bounded queue drained by a fixed number of
// writer goroutines.
func (w *AuditWriter) startWriters(n, queueLen int) {
	w.queue = make(chan *sarama.ProducerMessage, queueLen)
	for i := 0; i < n; i++ {
		go w.writeLoop()
	}
}

// writeLoop is one of the fixed variant's writers.
func (w *AuditWriter) writeLoop() {
	for msg := range w.queue {
		w.produce(msg)
	}
}
