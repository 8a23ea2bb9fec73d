// Package poolnoreset is a telemetry exporter that frames each batch of
// metric points into a bytes.Buffer taken from a sync.Pool. The framing helper
// was written for a connection's long-lived batch buffer: it appends a frame
// at the buffer's end and returns just that frame. When encoding moved to
// pooled buffers nobody added a Reset, so every reuse of a pooled buffer
// appends one more frame to the ones already in it. Output is correct (each
// send gets only its own frame), but the buffers the pool keeps in circulation
// grow without bound: the same few live buffers, each larger by the second.
package poolnoreset

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "sync-pool-misuse",
		Story: "telemetry exporter puts frame buffers back into a sync.Pool without Reset; each reuse appends another frame, so the pooled buffers grow without bound",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "sync-pool-misuse-fixed",
		Story: "the fix of sync-pool-misuse: buffers are Reset before Put, and buffers above 64 KB are dropped instead of pooled",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
}

// maxPooledFrame keeps oversized buffers out of the pool (the fix).
const maxPooledFrame = 64 << 10

var framePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Point is one metric sample.
type Point struct {
	Name  string
	Tags  string
	Value int64
	TS    int64
}

// Exporter ships metric batches to the collector.
type Exporter struct {
	resetBuffers bool          // the fix
	writeLatency time.Duration // one write to the collector connection
	sent         atomic.Int64
	sentBytes    atomic.Int64
	checksum     atomic.Uint32
}

// appendFrame appends one length-prefixed frame holding points to buf and
// returns the frame. It never touches what buf already holds, so a caller
// can batch several frames into one buffer.
func appendFrame(buf *bytes.Buffer, points []Point) []byte {
	start := buf.Len()
	var hdr [4]byte
	buf.Write(hdr[:]) // length, patched below
	for _, p := range points {
		buf.WriteString(p.Name)
		buf.WriteByte(',')
		buf.WriteString(p.Tags)
		buf.WriteByte(' ')
		buf.WriteString(strconv.FormatInt(p.Value, 10))
		buf.WriteByte(' ')
		buf.WriteString(strconv.FormatInt(p.TS, 10))
		buf.WriteByte('\n')
	}
	frame := buf.Bytes()[start:]
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	return frame
}

// exportBatch frames one batch in a pooled buffer and sends it.
func (e *Exporter) exportBatch(points []Point) {
	buf := framePool.Get().(*bytes.Buffer)
	frame := appendFrame(buf, points)
	e.send(frame)
	if e.resetBuffers {
		if buf.Cap() > maxPooledFrame {
			return // let the GC have giant buffers
		}
		buf.Reset()
	}
	// BUG: no buf.Reset() before Put: the next user appends its frame after
	// this one, so every pooled buffer keeps every frame it ever carried.
	framePool.Put(buf)
}

// send writes a frame to the collector connection (here: a checksum and the
// time the write takes).
func (e *Exporter) send(frame []byte) {
	time.Sleep(e.writeLatency)
	e.checksum.Store(crc32.Update(e.checksum.Load(), crc32.IEEETable, frame))
	e.sent.Add(1)
	e.sentBytes.Add(int64(len(frame)))
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	// Each shard's exporter writes its next frame as soon as the collector
	// took the last one: the write latency sets the pace (workers/latency
	// frames a second, 400 by default). Sixteen shards keep sixteen buffers in
	// circulation: their capacities double at different moments, so the live
	// heap climbs in many small stairs rather than a few big ones.
	const workers = 16
	latency := time.Duration(float64(workers) / env.RateOr(400) * float64(time.Second))
	e := &Exporter{resetBuffers: fixed, writeLatency: latency}
	// Shards carry 12 to 42 series: frames of ~0.5-1.7 KB (points of ~40 bytes).
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		points := make([]Point, max(1, env.Bytes(12+2*w)))
		for i := range points {
			points[i] = Point{Name: "http_requests_total", Tags: "route=/v1/orders,code=200", Value: int64(i)}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			exportLoop(ctx, e, points)
		}()
	}
	wg.Wait()
	return nil
}

// exportLoop is one shard's exporter: it frames and sends batch after batch.
func exportLoop(ctx context.Context, e *Exporter, template []Point) {
	batch := make([]Point, len(template))
	copy(batch, template)
	for i := 0; ctx.Err() == nil; i++ {
		for j := range batch {
			batch[j].TS = int64(i)
			batch[j].Value += int64(j)
		}
		e.exportBatch(batch)
	}
}
