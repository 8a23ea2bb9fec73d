package ginasync

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// ReportHandler serves CSV exports of a tenant's ledger.
type ReportHandler struct {
	deadline   time.Duration // how long a request waits before answering 202
	queryTime  time.Duration // ledger query latency
	reportSize int           // bytes of CSV per report

	delivered atomic.Int64
	// fixed renders from c.Copy() into a buffered channel (the fix).
	fixed bool
}

// exportReport renders the report in the background and waits for it up to
// the deadline; if rendering is slower it answers 202 and returns. The
// renderer is then left sending on a channel nobody reads, holding c.
func (h *ReportHandler) exportReport(c *gin.Context) {
	results := make(chan []byte)
	if h.fixed {
		results = make(chan []byte, 1) // the renderer never blocks on a handler that left
		go h.renderReport(c.Copy(), results)
	} else {
		go h.renderReport(c, results)
	}
	select {
	case csv := <-results:
		c.Data(http.StatusOK, "text/csv", csv)
	case <-time.After(h.deadline):
		c.JSON(http.StatusAccepted, gin.H{"status": "rendering", "retry_after": 5})
	}
}

// renderReport builds the CSV for the request's tenant and month, hands it to
// the waiting handler and records the delivery against the request.
func (h *ReportHandler) renderReport(c *gin.Context, out chan<- []byte) {
	tenant := c.GetString(tenantKey)
	month := c.DefaultQuery("month", "2026-01")
	time.Sleep(h.queryTime) // ledger query

	csv := make([]byte, 0, h.reportSize)
	csv = append(csv, "tenant,month,line,amount\n"...)
	for line := 0; len(csv)+64 < h.reportSize; line++ {
		csv = fmt.Appendf(csv, "%s,%s,%d,%d.%02d\n", tenant, month, line, line*37%10000, line%100)
	}
	out <- csv
	h.recordDelivery(c, len(csv))
}

func (h *ReportHandler) recordDelivery(c *gin.Context, n int) {
	h.delivered.Add(1)
	if h.fixed {
		return // the handler has answered: a copied context has no writer to set headers on
	}
	c.Header("X-Report-Bytes", strconv.Itoa(n))
}

const tenantKey = "tenant"

// authenticate resolves the calling tenant from its API key.
func authenticate(c *gin.Context) {
	key := c.GetHeader("X-Api-Key")
	if key == "" {
		c.AbortWithStatus(http.StatusUnauthorized)
		return
	}
	c.Set(tenantKey, "tenant-"+key)
	c.Next()
}

func newRouter(h *ReportHandler) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery(), authenticate)
	r.GET("/v1/reports/ledger.csv", h.exportReport)
	return r
}
