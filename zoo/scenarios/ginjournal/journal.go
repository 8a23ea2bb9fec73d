// Package ginjournal is a product catalogue API whose request-journal
// middleware appends every request's raw *gin.Context to a package-level
// slice, meaning to list method, path, status and latency on an admin page
// later. gin hands out contexts from a sync.Pool and puts each one back when
// the handler chain returns, so the journal shares contexts with the pool;
// whenever the GC empties the pool (every cycle drops what sat unused through
// the last one), gin allocates fresh contexts for the next burst of requests
// and the journal keeps the old ones, with the last request each served: its
// headers, URL and connection state. None of that memory is allocated by an
// application frame: gin allocates the contexts and net/http the requests.
package ginjournal

import (
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

var (
	journalMu sync.Mutex
	// journal is what the /debug/requests admin page lists. Nothing trims it.
	journal []*gin.Context
	// journalRing, set in the fixed variant, keeps the last entries as values.
	journalRing *entryRing
)

// journalEntry is what the admin page shows of a request: values copied out
// of the context, so the context can go back to gin's pool.
type journalEntry struct {
	method  string
	path    string
	status  int
	latency time.Duration
}

// entryRing keeps the last len(entries) journal entries.
type entryRing struct {
	entries []journalEntry
	next    int
}

func (r *entryRing) add(e journalEntry) {
	r.entries[r.next%len(r.entries)] = e
	r.next++
}

// journalRequests is the journal middleware: it times the handler chain and
// records the request.
func journalRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	journalMu.Lock()
	defer journalMu.Unlock()
	if journalRing != nil {
		// The fix: copy the few values the page needs; never keep c.
		journalRing.add(journalEntry{c.Request.Method, c.FullPath(), c.Writer.Status(), time.Since(start)})
		return
	}
	// BUG: c is gin's pooled context, not c.Copy() and not a copy of its
	// values: the journal pins every context gin ever allocates, each with the
	// request it last served, and the slice is never trimmed.
	journal = append(journal, c)
}
