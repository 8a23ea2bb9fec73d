// Package mapcache is a quote service that memoises every rendered response in
// a package-level map keyed by request id. Request ids never repeat, so the
// map only grows: an unbounded cache with high-cardinality keys.
package mapcache

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "unbounded-map-cache",
		Story: "quote service caches every rendered response in a global map keyed by request id, never evicted",
		Run:   run,
	})
	zoo.Register(zoo.Scenario{
		Name:  "unbounded-map-cache-fixed",
		Story: "the fix of unbounded-map-cache: the response cache keeps the last 500 responses (FIFO eviction)",
		Run: func(ctx context.Context, env zoo.Env) error {
			responseMu.Lock()
			cacheLimit = 500
			responseMu.Unlock()
			return run(ctx, env)
		},
	})
}

var (
	responseMu    sync.RWMutex
	responseCache = map[string][]byte{} // request id -> rendered response; no bound, no expiry
	// cacheLimit bounds the cache in the fixed variant (0: unbounded, the bug);
	// cacheOrder is the insertion order its FIFO eviction follows.
	cacheLimit int
	cacheOrder []string
)

// cacheResponse keeps a copy of the rendered response so retries of the same
// request can be answered idempotently. BUG: entries are never evicted.
func cacheResponse(requestID string, body []byte) {
	entry := make([]byte, len(body))
	copy(entry, body)
	responseMu.Lock()
	responseCache[requestID] = entry
	if cacheLimit > 0 {
		cacheOrder = append(cacheOrder, requestID)
		for len(cacheOrder) > cacheLimit {
			delete(responseCache, cacheOrder[0])
			cacheOrder = cacheOrder[1:]
		}
	}
	responseMu.Unlock()
}

func cachedResponse(requestID string) ([]byte, bool) {
	responseMu.RLock()
	defer responseMu.RUnlock()
	b, ok := responseCache[requestID]
	return b, ok
}

// QuoteService renders price quotes.
type QuoteService struct {
	scratch  []byte
	bodySize int
}

// handleQuote answers one quote request.
func (s *QuoteService) handleQuote(requestID string, symbol string) []byte {
	if b, ok := cachedResponse(requestID); ok {
		return b
	}
	body := s.renderQuote(symbol)
	cacheResponse(requestID, body)
	return body
}

func (s *QuoteService) renderQuote(symbol string) []byte {
	if cap(s.scratch) < s.bodySize {
		s.scratch = make([]byte, 0, s.bodySize)
	}
	b := s.scratch[:0]
	for len(b) < s.bodySize {
		b = fmt.Appendf(b, "{\"symbol\":%q,\"bid\":%d,\"ask\":%d},", symbol, len(b), len(b)+7)
	}
	return b[:s.bodySize]
}

func run(ctx context.Context, env zoo.Env) error {
	s := &QuoteService{bodySize: env.Bytes(4 << 10)}
	symbols := []string{"ACME", "GLBX", "INTC", "UMBR", "WAYN"}
	zoo.Every(ctx, env.RateOr(200), func(i int) {
		s.handleQuote("req-"+strconv.Itoa(i), symbols[i%len(symbols)])
	})
	return nil
}
