// Package ctxtimeout is a pricing service whose quote path derives a context
// with a generous timeout from the server's lifetime context for every call to
// the rate-card store, through a helper that returns the cancel function. The
// hot path drops that cancel (go vet's lostcancel check only looks at direct
// context.WithTimeout calls, so nothing flags it). Each call completes in
// microseconds, but its context stays registered among the lifetime context's
// children, with its timer, until the two-minute deadline: with a thousand
// quotes a second, contexts and timers pile up by the hundred thousand.
package ctxtimeout

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "context-withtimeout-no-cancel",
		Story: "pricing service derives context.WithTimeout(serverCtx, 2m) per quote and never calls cancel: children of the server context and their timers pile up",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "context-withtimeout-no-cancel-fixed",
		Story: "the fix of context-withtimeout-no-cancel: the quote path defers cancel(), so each context leaves its parent as soon as the call returns",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
}

var errUnknownSKU = errors.New("unknown sku")

// RateCard is the store of list prices (an in-memory replica here).
type RateCard struct {
	mu     sync.RWMutex
	prices map[string]int64
}

// Lookup returns the list price of sku, or the context's error.
func (r *RateCard) Lookup(ctx context.Context, sku string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.prices[sku]
	if !ok {
		return 0, errUnknownSKU
	}
	return p, nil
}

// PricingService answers quote requests.
type PricingService struct {
	// lifetime is cancelled when the server shuts down: every in-flight
	// downstream call derives from it so a shutdown aborts them all.
	lifetime      context.Context
	rates         *RateCard
	lookupTimeout time.Duration
	cancelCalls   bool // the fix
	quoted        int64
}

// callContext derives the context of one downstream call: bounded by the
// lookup timeout and aborted on shutdown.
func (s *PricingService) callContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.lifetime, s.lookupTimeout)
}

// Quote prices one line item.
//
// BUG: the cancel function from callContext is dropped: the derived context
// stays a child of the lifetime context, with its timer, until its two-minute
// deadline, long after Lookup returned.
func (s *PricingService) Quote(sku string, qty int) (int64, error) {
	ctx, cancel := s.callContext()
	if s.cancelCalls {
		defer cancel()
	}
	price, err := s.rates.Lookup(ctx, sku)
	if err != nil {
		return 0, err
	}
	s.quoted++
	return price * int64(qty), nil
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	rates := &RateCard{prices: map[string]int64{}}
	for i := 0; i < 5000; i++ {
		rates.prices["SKU-"+strconv.Itoa(i)] = int64(199 + i)
	}
	// The server's lifetime context: cancelled at shutdown, never during the load.
	lifetime, shutdown := context.WithCancel(context.WithoutCancel(ctx))
	defer shutdown()
	s := &PricingService{lifetime: lifetime, rates: rates, lookupTimeout: 2 * time.Minute, cancelCalls: fixed}
	// Quotes arrive in batches (one per cart) at ~1000 line items a second.
	const perCart = 10
	zoo.Every(ctx, env.RateOr(1000)/perCart, func(i int) {
		for j := 0; j < perCart; j++ {
			_, _ = s.Quote("SKU-"+strconv.Itoa((i*perCart+j)%5000), 1+j%3)
		}
	})
	return nil
}
