package ginretain

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

const (
	auditBodyKey     = "audit.body"
	auditReceivedKey = "audit.received"
	auditStatusKey   = "audit.status"
)

var (
	auditMu sync.Mutex
	// auditBacklog holds finished requests until the audit shipper sends
	// them to the compliance store. The shipper was never wired up in this
	// deployment, so nothing ever drains it.
	auditBacklog []*gin.Context
	// auditShipper, set in the fixed variant, takes extracted audit records
	// to the shipper instead of queueing contexts.
	auditShipper chan auditRecord
)

// auditRecord is what the compliance store needs from a request: values
// copied out of the context, so the context can go back to gin's pool.
type auditRecord struct {
	path     string
	status   int
	received time.Time
	bytes    int
}

// shipAudits is the audit shipper: it sends records on to the compliance
// store (here it only counts them).
func shipAudits(records <-chan auditRecord) {
	var shipped, bytes int
	for r := range records {
		shipped++
		bytes += r.bytes
	}
	_, _ = shipped, bytes
}

// recordAudit is the audit middleware: it snapshots the request body into the
// context keys, runs the handlers, and queues the context for the shipper.
// Every queued context keeps its request, headers, keys and body snapshot
// alive for the life of the process.
func recordAudit(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		c.AbortWithStatus(http.StatusBadRequest)
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	c.Set(auditBodyKey, body)
	c.Set(auditReceivedKey, time.Now())

	c.Next()

	c.Set(auditStatusKey, c.Writer.Status())
	auditMu.Lock()
	if ship := auditShipper; ship != nil {
		auditMu.Unlock()
		// The fix: ship the facts, never c; drop when the shipper lags.
		select {
		case ship <- auditRecord{c.FullPath(), c.Writer.Status(), time.Now(), len(body)}:
		default:
		}
		return
	}
	// gin recycles c once the handler chain returns, so queue a copy.
	auditBacklog = append(auditBacklog, c.Copy())
	auditMu.Unlock()
}
