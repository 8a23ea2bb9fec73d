// Package burstyload is an API gateway whose traffic arrives in waves (clients
// on synchronised schedules). Each request runs on its own goroutine, holds a
// response buffer while it waits on a backend, then finishes. Goroutine count
// and heap swing up and down with a period of a few seconds around a stable
// mean: a control that must not look like a leak.
package burstyload

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "bursty-load",
		Story: "gateway traffic arrives in 3 s waves; hundreds of request goroutines come and go around a stable mean",
		Run:   run,
	})
}

// wavePeriod is the period of the traffic waves.
const wavePeriod = 3 * time.Second

type apiRequest struct {
	id   int
	path string
}

// Gateway proxies requests to a backend.
type Gateway struct {
	respSize  int
	inflight  atomic.Int64
	completed atomic.Int64
	wg        sync.WaitGroup
}

// handleRequest serves one request: it buffers the backend reply, which takes
// 200-800 ms to arrive, and then completes.
func (g *Gateway) handleRequest(ctx context.Context, req apiRequest, latency time.Duration) {
	defer g.wg.Done()
	g.inflight.Add(1)
	defer g.inflight.Add(-1)
	resp := make([]byte, g.respSize)
	if !g.awaitBackend(ctx, latency) {
		return
	}
	resp[0] = byte(req.id)
	resp[len(resp)-1] = byte(len(req.path))
	g.completed.Add(1)
}

func (g *Gateway) awaitBackend(ctx context.Context, latency time.Duration) bool {
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// waveRate is the arrival rate at time t: mean rate, swinging between ~0 and
// twice the mean once per wavePeriod.
func waveRate(mean float64, t time.Duration) float64 {
	return mean * (1 - math.Cos(2*math.Pi*float64(t)/float64(wavePeriod)))
}

func run(ctx context.Context, env zoo.Env) error {
	g := &Gateway{respSize: env.Bytes(32 << 10)}
	mean := env.RateOr(600)
	const tickHz = 50
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Now()
	var due float64
	id := 0
	paths := []string{"/v1/orders", "/v1/cart", "/v1/search", "/v1/profile"}
	zoo.Every(ctx, tickHz, func(int) {
		due += waveRate(mean, time.Since(start)) / tickHz
		for ; due >= 1; due-- {
			id++
			latency := 200*time.Millisecond + time.Duration(rng.Int64N(int64(600*time.Millisecond)))
			g.wg.Add(1)
			go g.handleRequest(ctx, apiRequest{id: id, path: paths[id%len(paths)]}, latency)
		}
	})
	g.wg.Wait()
	return nil
}
