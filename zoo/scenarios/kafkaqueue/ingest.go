package kafkaqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/leakhunter/zoo/internal/mockkafka"
	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "kafka-unbounded-queue",
		Story: "request path appends events to an unbounded in-memory queue drained by a much slower Kafka writer: the backlog grows steadily",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, 0) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "kafka-unbounded-queue-fixed",
		Story: "the fix of kafka-unbounded-queue: the queue holds at most 256 events and drops the oldest when the writer lags (backpressure policy drop-oldest)",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, 256) },
	})
}

// ClickEvent is what the browser SDK posts.
type ClickEvent struct {
	SessionID string    `json:"session_id"`
	Page      string    `json:"page"`
	At        time.Time `json:"at"`
	Context   string    `json:"context"` // serialized DOM/context snapshot
}

// IngestHandler serves POST /track.
type IngestHandler struct {
	queue *Queue
	bufs  sync.Pool
}

// Track encodes an event into a pooled buffer and queues it for Kafka.
func (h *IngestHandler) Track(evt *ClickEvent) error {
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer h.bufs.Put(buf)
	if err := json.NewEncoder(buf).Encode(evt); err != nil {
		return err
	}
	h.queue.Enqueue(evt.SessionID, buf.Bytes())
	return nil
}

func run(ctx context.Context, env zoo.Env, limit int) error {
	const topic = "clickstream"
	broker := mockkafka.StartCluster(topic, 1)
	broker.SetLatency(500 * time.Millisecond) // overloaded cluster, acks=all
	q := NewQueue()
	q.limit = limit
	w, err := NewKafkaWriter(q, []string{broker.Addr()}, topic)
	if err != nil {
		return err
	}
	go w.Run(nil) // lives as long as the service
	h := &IngestHandler{queue: q, bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
	snapshot := strings.Repeat("x", env.Bytes(16<<10))
	zoo.Every(ctx, env.RateOr(100), func(i int) {
		_ = h.Track(&ClickEvent{
			SessionID: fmt.Sprintf("sess-%07d", i%20000),
			Page:      fmt.Sprintf("/product/%d", i%977),
			At:        time.Now(),
			Context:   snapshot,
		})
	})
	return nil
}
