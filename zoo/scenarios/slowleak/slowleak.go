// Package slowleak is a catalogue service with a large, steady live heap (its
// in-memory product catalogue) and a slow leak beside it: an audit trail of
// sessions kept in a map keyed by session id that nothing ever prunes. The
// leak adds well under 1% to the live heap over a short window, but every
// exact HeapAlloc figure after a forced GC is higher than the one before.
package slowleak

import (
	"context"
	"strconv"
	"sync"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "slow-leak-large-heap",
		Story: "catalogue service holding a 512 MB catalogue; an audit map of sessions keyed by session id is never pruned (+256 KB/s, well under 1% of the heap per 15 s)",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "slow-leak-large-heap-fixed",
		Story: "the fix: the audit trail forgets a session when it ends (at most 64 open sessions are kept)",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
}

// Catalogue is the service's large, long-lived data: loaded once, read per request.
type Catalogue struct {
	pages [][]byte
}

func loadCatalogue(size int) *Catalogue {
	const page = 1 << 20
	c := &Catalogue{}
	for n := 0; n < size; n += page {
		p := make([]byte, page)
		for i := 0; i < page; i += 4096 {
			p[i] = byte(n + i) // touch every page so the heap is really resident
		}
		c.pages = append(c.pages, p)
	}
	return c
}

// AuditTrail records what each session did.
type AuditTrail struct {
	mu       sync.Mutex
	sessions map[string][]byte
	order    []string
	bounded  bool
}

// Remember keeps a session's audit record. BUG: entries are never removed, so
// the trail grows by one record per session for as long as the process runs.
func (a *AuditTrail) Remember(session string, record []byte) {
	entry := make([]byte, len(record))
	copy(entry, record)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sessions[session] = entry
	if a.bounded { // the fix: a session's record is dropped when the session ends
		a.order = append(a.order, session)
		for len(a.order) > 64 {
			delete(a.sessions, a.order[0])
			a.order = a.order[1:]
		}
	}
}

func render(c *Catalogue, i int, out []byte) []byte {
	p := c.pages[i%len(c.pages)]
	out = append(out[:0], p[:512]...)
	return append(out, strconv.Itoa(i)...)
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	cat := loadCatalogue(env.Bytes(512 << 20))
	trail := &AuditTrail{sessions: map[string][]byte{}, bounded: fixed}
	record := make([]byte, env.Bytes(16<<10))
	var scratch []byte
	zoo.Every(ctx, env.RateOr(16), func(i int) {
		scratch = render(cat, i, scratch)
		trail.Remember("session-"+strconv.Itoa(i), record)
	})
	_ = cat.pages[0][0] // the catalogue stays live for the life of the service
	return nil
}
