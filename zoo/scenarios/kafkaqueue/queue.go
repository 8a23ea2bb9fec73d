// Package kafkaqueue is a clickstream ingestion service: the request path
// appends events to an in-memory queue and a background KafkaWriter ships
// them to Kafka. The queue has no bound and no backpressure, and the writer
// (one synchronous produce per message against a slow cluster) is far slower
// than the request path, so the backlog, and the heap, grow without limit.
package kafkaqueue

import (
	"bytes"
	"sync"
	"time"
)

// Message is one queued event.
type Message struct {
	Key        string
	Value      []byte
	EnqueuedAt time.Time
}

// Queue is the buffer between the request path and the Kafka writer.
type Queue struct {
	mu    sync.Mutex
	items []*Message
	bytes int64
	ready chan struct{}
	// limit bounds the queue (the fix): Enqueue drops the oldest message
	// beyond it. 0 is unbounded (the bug).
	limit   int
	dropped int64
}

// NewQueue creates an empty queue.
func NewQueue() *Queue {
	return &Queue{ready: make(chan struct{}, 1)}
}

// Enqueue copies payload (the caller's buffer is pooled) and appends it.
//
// BUG: unbounded: no capacity, no watermark, no drop or block policy, so when
// the writer falls behind every event waits here, in memory.
func (q *Queue) Enqueue(key string, payload []byte) {
	msg := &Message{Key: key, Value: bytes.Clone(payload), EnqueuedAt: time.Now()}
	q.mu.Lock()
	q.items = append(q.items, msg)
	q.bytes += int64(len(msg.Value))
	for q.limit > 0 && len(q.items) > q.limit {
		q.bytes -= int64(len(q.items[0].Value))
		q.items[0] = nil
		q.items = q.items[1:]
		q.dropped++
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// DrainBatch removes up to max messages from the head of the queue.
func (q *Queue) DrainBatch(max int) []*Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, len(q.items))
	if n == 0 {
		return nil
	}
	batch := make([]*Message, n)
	copy(batch, q.items[:n])
	clear(q.items[:n])
	q.items = q.items[n:]
	for _, m := range batch {
		q.bytes -= int64(len(m.Value))
	}
	return batch
}

// Len reports the backlog (messages, bytes).
func (q *Queue) Len() (int, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.bytes
}
