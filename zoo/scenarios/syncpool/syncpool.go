// Package syncpool is a report renderer that reuses output buffers through a
// sync.Pool, resetting them before Put, under steady load. Allocation is low
// and live heap flat: a control for the "pool misuse" pattern.
package syncpool

import (
	"bytes"
	"context"
	"hash/crc32"
	"strconv"
	"sync"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "sync-pool-steady",
		Story: "report renderer reuses bytes.Buffers via sync.Pool (Reset before Put) under steady load",
		Run:   run,
	})
}

// maxPooledBuffer keeps oversized buffers out of the pool.
const maxPooledBuffer = 256 << 10

var bufferPool = sync.Pool{New: newBuffer}

func newBuffer() any { return new(bytes.Buffer) }

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	bufferPool.Put(b)
}

type reportRow struct {
	account string
	amount  int64
}

// Renderer renders account statements.
type Renderer struct {
	rows     []reportRow
	checksum uint32
	served   int64
}

// renderStatement renders one statement into a pooled buffer and "sends" it.
func (r *Renderer) renderStatement(customer int) {
	buf := getBuffer()
	defer putBuffer(buf)
	buf.WriteString("statement for customer ")
	buf.WriteString(strconv.Itoa(customer))
	buf.WriteByte('\n')
	n := len(r.rows)/2 + customer%(len(r.rows)/2)
	for _, row := range r.rows[:n] {
		buf.WriteString(row.account)
		buf.WriteByte(',')
		buf.WriteString(strconv.FormatInt(row.amount, 10))
		buf.WriteByte('\n')
	}
	r.checksum ^= crc32.ChecksumIEEE(buf.Bytes())
	r.served++
}

func run(ctx context.Context, env zoo.Env) error {
	// ~24 bytes per row; the default statement is 12-24 KB.
	rows := make([]reportRow, max(env.Bytes(1000), 4))
	for i := range rows {
		rows[i] = reportRow{account: "ACC-" + strconv.Itoa(100000+i), amount: int64(i * 137)}
	}
	const batch = 5
	const workers = 4
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go serveStatements(ctx, &wg, &Renderer{rows: rows}, env.RateOr(500)/workers/batch, batch)
	}
	wg.Wait()
	return nil
}

// serveStatements is one request-serving loop.
func serveStatements(ctx context.Context, wg *sync.WaitGroup, r *Renderer, tickRate float64, batch int) {
	defer wg.Done()
	zoo.Every(ctx, tickRate, func(i int) {
		for j := 0; j < batch; j++ {
			r.renderStatement(i*batch + j)
		}
	})
}
