// Package kafkasuccesses is an order service that publishes order events to
// Kafka through a sarama AsyncProducer configured with
// Producer.Return.Successes = true, but nothing ever reads Successes(). Once
// the successes channel is full the producer stops making progress, its input
// backs up, and every request's publishing goroutine parks in
// (*EventWriter).Publish holding its encoded event.
package kafkasuccesses

import (
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// EventWriter publishes domain events to Kafka.
type EventWriter struct {
	producer  sarama.AsyncProducer
	topic     string
	queued    atomic.Int64
	failed    atomic.Int64
	delivered atomic.Int64
}

// NewEventWriter creates the async producer.
//
// BUG: Return.Successes is switched on (someone wanted delivery metrics) but
// no goroutine drains Successes(); only Errors() is consumed.
func NewEventWriter(brokers []string, topic string, drainSuccesses bool) (*EventWriter, error) {
	cfg := sarama.NewConfig()
	cfg.ClientID = "order-service"
	cfg.ApiVersionsRequest = false
	cfg.ChannelBufferSize = 64
	cfg.Producer.RequiredAcks = sarama.WaitForLocal
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	p, err := sarama.NewAsyncProducer(brokers, cfg)
	if err != nil {
		return nil, err
	}
	w := &EventWriter{producer: p, topic: topic}
	go w.logErrors()
	if drainSuccesses {
		go w.countSuccesses() // the fix: Return.Successes=true needs a reader
	}
	return w, nil
}

// logErrors reports failed deliveries.
func (w *EventWriter) logErrors() {
	for err := range w.producer.Errors() {
		if w.failed.Add(1) <= 10 {
			fmt.Fprintf(os.Stderr, "order-events: delivery failed: %v\n", err)
		}
	}
}

// Publish encodes an order event and hands it to the producer. It blocks
// while the producer's input is full.
// countSuccesses drains the producer's Successes() channel.
func (w *EventWriter) countSuccesses() {
	for range w.producer.Successes() {
		w.delivered.Add(1)
	}
}

func (w *EventWriter) Publish(evt *OrderEvent) {
	payload, err := encodeOrderEvent(evt)
	if err != nil {
		w.failed.Add(1)
		return
	}
	w.producer.Input() <- &sarama.ProducerMessage{
		Topic: w.topic,
		Key:   sarama.StringEncoder(evt.OrderID),
		Value: sarama.ByteEncoder(payload),
	}
	w.queued.Add(1)
}

func encodeOrderEvent(evt *OrderEvent) ([]byte, error) {
	return json.Marshal(evt)
}
