// Package workerpool is a thumbnail-job dispatcher with a fixed pool of workers
// that spend most of their time idle, blocked on the job queue. The goroutine
// count is large but constant: a control that must not look like a leak.
package workerpool

import (
	"context"
	"hash/crc32"
	"sync"
	"sync/atomic"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "idle-worker-pool",
		Story: "fixed pool of 64 workers blocked on a job channel, fed occasional jobs; goroutine count constant",
		Run:   run,
	})
}

type job struct {
	id      int
	payload []byte
}

// Pool runs jobs on a fixed number of workers.
type Pool struct {
	jobs      chan job
	wg        sync.WaitGroup
	processed atomic.Int64
	checksum  atomic.Uint32
}

// NewPool starts n workers.
func NewPool(n int) *Pool {
	p := &Pool{jobs: make(chan job, n)}
	for i := 0; i < n; i++ {
		p.wg.Add(1)
		go p.worker(i)
	}
	return p
}

// worker processes jobs until the queue is closed.
func (p *Pool) worker(id int) {
	defer p.wg.Done()
	for j := range p.jobs {
		p.process(j)
	}
}

func (p *Pool) process(j job) {
	p.checksum.Store(crc32.ChecksumIEEE(j.payload))
	p.processed.Add(1)
}

// Submit queues a job.
func (p *Pool) Submit(j job) { p.jobs <- j }

// Close stops accepting jobs and waits for the workers to drain the queue.
func (p *Pool) Close() {
	close(p.jobs)
	p.wg.Wait()
}

func run(ctx context.Context, env zoo.Env) error {
	p := NewPool(64)
	defer p.Close()
	size := env.Bytes(16 << 10)
	zoo.Every(ctx, env.RateOr(20), func(i int) {
		p.Submit(job{id: i, payload: make([]byte, size)})
	})
	return nil
}
