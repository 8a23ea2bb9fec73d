package main

import (
	"context"
	"time"
)

// --- time-after-loop: time.After in a hot select loop (go.mod says go 1.22).

var events = make(chan int)

func dispatchEvents() {
	for {
		select {
		case e := <-events:
			_ = e
		case <-time.After(time.Hour): // BUG: a new hour-long timer per event
			return
		}
	}
}

func publishEvent(i int) { events <- i }

// --- ticker-heap: a ticker per call, never stopped.

func startHeartbeat(i int) {
	t := time.NewTicker(time.Minute) // BUG: no t.Stop()
	_ = t
}

// --- context-cancel-not-called: WithTimeout whose cancel is dropped.

func callBackend(i int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	_ = cancel // BUG: cancel is never called: the context lives until the deadline
	_ = ctx.Err()
}

// --- context-custom-parent: a custom parent context makes WithCancel start a goroutine.

type shutdownCtx struct{ done chan struct{} }

func (c shutdownCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c shutdownCtx) Done() <-chan struct{}       { return c.done }
func (c shutdownCtx) Err() error                  { return nil }
func (c shutdownCtx) Value(any) any               { return nil }

var appCtx = shutdownCtx{done: make(chan struct{})}

func handleJob(i int) {
	ctx, cancel := context.WithCancel(appCtx)
	_ = cancel // BUG: never cancelled: propagateCancel's goroutine waits forever
	_ = ctx
}

func init() {
	register("time-after-loop", func() { go dispatchEvents() }, publishEvent)
	register("ticker-heap", nil, startHeartbeat)
	register("context-cancel-not-called", nil, callBackend)
	register("context-custom-parent", nil, handleJob)
}
