package main

import "time"

// --- chan-range-never-closed: a consumer ranges over a channel nobody closes.

func streamTotals(i int) {
	ch := make(chan int)
	go sumValues(ch)
	ch <- i
	ch <- i + 1 // BUG: no close(ch): sumValues never returns
}

func sumValues(ch chan int) {
	total := 0
	for v := range ch {
		total += v
	}
	_ = total
}

// --- ctx-done-not-watched: senders block on a shared channel with no ctx.Done case.

type auditSink struct{ events chan string }

var sink = &auditSink{events: make(chan string)}

func (s *auditSink) drain() {
	for range time.Tick(time.Second) { // a slow consumer that takes one event a second
		<-s.events
	}
}

func recordAudit(i int) {
	go func() {
		sink.events <- "event" // BUG: no select on the request's ctx.Done()
	}()
}

// --- select-no-exit: a select whose channels nobody will ever use.

func watchJob(i int) {
	done := make(chan struct{})
	failed := make(chan error)
	go awaitJob(done, failed)
}

func awaitJob(done chan struct{}, failed chan error) {
	select { // BUG: no ctx.Done() case; nobody closes done or sends on failed
	case <-done:
	case <-failed:
	}
}

func init() {
	register("chan-range-never-closed", nil, streamTotals)
	register("ctx-done-not-watched", func() { go sink.drain() }, recordAudit)
	register("select-no-exit", nil, watchJob)
}
