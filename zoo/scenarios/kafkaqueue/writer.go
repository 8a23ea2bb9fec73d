package kafkaqueue

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/IBM/sarama"
)

// KafkaWriter drains the queue into Kafka.
type KafkaWriter struct {
	queue    *Queue
	producer sarama.SyncProducer
	topic    string
	batch    int
	sent     atomic.Int64
	failed   atomic.Int64
}

// NewKafkaWriter connects a synchronous producer (acks=all).
func NewKafkaWriter(q *Queue, brokers []string, topic string) (*KafkaWriter, error) {
	cfg := sarama.NewConfig()
	cfg.ClientID = "clickstream-ingest"
	cfg.ApiVersionsRequest = false
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return nil, err
	}
	return &KafkaWriter{queue: q, producer: p, topic: topic, batch: 64}, nil
}

// Run ships queued messages until stop is closed.
func (w *KafkaWriter) Run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-w.queue.ready:
		}
		for {
			batch := w.queue.DrainBatch(w.batch)
			if len(batch) == 0 {
				break
			}
			w.writeBatch(batch)
		}
	}
}

// writeBatch produces a batch, one synchronous round trip per message.
func (w *KafkaWriter) writeBatch(batch []*Message) {
	for _, m := range batch {
		_, _, err := w.producer.SendMessage(&sarama.ProducerMessage{
			Topic: w.topic,
			Key:   sarama.StringEncoder(m.Key),
			Value: sarama.ByteEncoder(m.Value),
		})
		if err != nil {
			if w.failed.Add(1) <= 10 {
				fmt.Fprintf(os.Stderr, "clickstream: produce failed: %v\n", err)
			}
			continue
		}
		w.sent.Add(1)
	}
}
