// Package sleepers is a webhook redeliverer: each failed delivery gets a
// goroutine that sleeps out a two-minute backoff and retries. Failures arrive at
// a steady rate, so the sleeping population is large but constant, while the
// oldest sleepers' wait times keep rising. The steady-state population (with
// staggered remaining backoffs) is restored at startup, as a service would
// reload its retry queue. A control that must not look like a leak.
package sleepers

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "sleepers-steady",
		Story: "webhook redeliverer: goroutines sleep out a 2-minute backoff, spawned at the rate they finish; flat count, rising wait times",
		Run:   run,
	})
}

const retryBackoff = 2 * time.Minute

type delivery struct {
	id       string
	endpoint string
	body     []byte
	attempt  int
}

// Redeliverer retries failed webhook deliveries after a backoff.
type Redeliverer struct {
	waiting     atomic.Int64
	redelivered atomic.Int64
}

// scheduleRetry parks the delivery for wait, then retries it.
func (r *Redeliverer) scheduleRetry(d *delivery, wait time.Duration) {
	r.waiting.Add(1)
	go r.retryAfter(d, wait)
}

// retryAfter sleeps out the backoff and redelivers.
func (r *Redeliverer) retryAfter(d *delivery, wait time.Duration) {
	time.Sleep(wait)
	r.waiting.Add(-1)
	r.redeliver(d)
}

func (r *Redeliverer) redeliver(d *delivery) {
	if len(d.body) > 0 && d.endpoint != "" {
		d.attempt++
		r.redelivered.Add(1)
	}
}

func newDelivery(n int, size int) *delivery {
	return &delivery{
		id:       "dlv-" + strconv.Itoa(n),
		endpoint: "https://hooks.example.internal/tenant/" + strconv.Itoa(n%97),
		body:     make([]byte, size),
		attempt:  1,
	}
}

// restoreRetryQueue reloads the pending retries: population rate*backoff,
// remaining backoffs evenly staggered, so they finish at the steady rate.
func (r *Redeliverer) restoreRetryQueue(rate float64, size int) int {
	n := int(rate * retryBackoff.Seconds())
	for i := 0; i < n; i++ {
		remaining := time.Duration(float64(retryBackoff) * float64(i+1) / float64(n))
		r.scheduleRetry(newDelivery(-i-1, size), remaining)
	}
	return n
}

func run(ctx context.Context, env zoo.Env) error {
	r := &Redeliverer{}
	rate := env.RateOr(10)
	size := env.Bytes(512)
	r.restoreRetryQueue(rate, size)
	zoo.Every(ctx, rate, func(i int) {
		r.scheduleRetry(newDelivery(i, size), retryBackoff)
	})
	return nil
}
