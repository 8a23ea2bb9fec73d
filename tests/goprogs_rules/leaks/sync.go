package main

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// --- sync-pool-held: pooled buffers taken with Get and kept, never Put back.

type frame struct{ payload []byte }

var (
	framePool = sync.Pool{New: func() any { return newFrame() }}
	inflight  []*frame // frames "still being sent": nobody ever removes them
	inflMu    sync.Mutex
)

func newFrame() *frame { return &frame{payload: make([]byte, 32<<10)} }

func sendFrame(i int) {
	f := framePool.Get().(*frame)
	f.payload[0] = byte(i)
	inflMu.Lock()
	inflight = append(inflight, f) // BUG: kept forever, never framePool.Put(f)
	inflMu.Unlock()
}

// --- sync-pool-no-reset: pooled buffers Put back without Reset: they only grow.
// Each worker holds its buffer while it "writes the response" (so buffers are in
// use, not idle in the pool, when a GC runs) and puts it back without Reset.

var (
	renderPool = sync.Pool{New: newReportBuffer}
	newBuffers atomic.Int64
	row        = strings.Repeat("x", 512) + "\n"
)

// newReportBuffer sizes buffers differently so they do not all double at once.
func newReportBuffer() any {
	n := newBuffers.Add(1)
	return bytes.NewBuffer(make([]byte, 0, 4096+int(n*1543%4096)))
}

func startRenderers() {
	for w := 0; w < 32; w++ {
		go renderReports(w)
	}
}

func renderReports(w int) {
	for n := w; ; n++ {
		b := renderPool.Get().(*bytes.Buffer)
		for r := 0; r < 1+n%16; r++ {
			b.WriteString(row) // BUG: no b.Reset() first: old reports stay, the buffer grows
		}
		time.Sleep(time.Duration(20+n%40) * time.Millisecond) // writing the response
		renderPool.Put(b)
	}
}

// --- waitgroup-never-done: a worker returns early without wg.Done().

func fanOut(i int) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = i * 2 }()
	go func() {
		if i >= 0 { // BUG: the early return skips wg.Done()
			return
		}
		wg.Done()
	}()
	go collectResults(&wg)
}

func collectResults(wg *sync.WaitGroup) {
	wg.Wait()
}

// --- mutex-never-unlocked: an error path returns with the lock held.

var (
	ledgerMu sync.Mutex
	ledger   = map[int]int{}
)

func postEntry(i int) {
	go func() {
		ledgerMu.Lock()
		if i == 0 { // BUG: the error path forgets ledgerMu.Unlock()
			return
		}
		ledger[i] = i
		ledgerMu.Unlock()
	}()
}

func init() {
	register("sync-pool-held", nil, sendFrame)
	register("sync-pool-no-reset", startRenderers, func(int) {})
	register("waitgroup-never-done", nil, fanOut)
	register("mutex-never-unlocked", func() { time.Sleep(10 * time.Millisecond) }, postEntry)
}
