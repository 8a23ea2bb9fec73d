// Package periodicbatch is a metrics shipper that accumulates encoded events in
// memory and flushes the whole batch every few seconds, releasing it. Live heap
// is a sawtooth (several MB per tooth, ~3 s period) with no trend: a control
// that must not look like a leak.
package periodicbatch

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"sync"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "periodic-batch",
		Story: "metrics shipper buffers events and flushes the batch every 3 s; sawtooth heap (up to ~9 MB), no trend",
		Run:   run,
	})
}

const flushInterval = 3 * time.Second

// MetricsBatcher buffers encoded events between flushes.
type MetricsBatcher struct {
	mu        sync.Mutex
	pending   [][]byte
	eventSize int
	shipped   int
	checksum  uint32
}

// record encodes one event into the pending batch.
func (b *MetricsBatcher) record(seq int, value float64) {
	ev := make([]byte, b.eventSize)
	binary.LittleEndian.PutUint64(ev, uint64(seq))
	binary.LittleEndian.PutUint64(ev[8:], uint64(value))
	for i := 16; i < len(ev); i += 64 {
		ev[i] = byte(seq + i)
	}
	b.mu.Lock()
	b.pending = append(b.pending, ev)
	b.mu.Unlock()
}

// flush takes the pending batch, uploads it and drops it.
func (b *MetricsBatcher) flush() {
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()
	b.upload(batch)
}

func (b *MetricsBatcher) upload(batch [][]byte) {
	crc := uint32(0)
	for _, ev := range batch {
		crc = crc32.Update(crc, crc32.IEEETable, ev[:64])
	}
	b.checksum ^= crc
	b.shipped += len(batch)
}

// flushLoop flushes on a fixed interval until ctx is done, then flushes once more.
func (b *MetricsBatcher) flushLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flush()
		case <-ctx.Done():
			b.flush()
			return
		}
	}
}

func run(ctx context.Context, env zoo.Env) error {
	b := &MetricsBatcher{eventSize: max(env.Bytes(2<<10), 64)}
	done := make(chan struct{})
	go b.flushLoop(ctx, done)
	const batch = 10
	zoo.Every(ctx, env.RateOr(1500)/batch, func(i int) {
		for j := 0; j < batch; j++ {
			b.record(i*batch+j, float64(i))
		}
	})
	<-done
	return nil
}
