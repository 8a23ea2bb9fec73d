// Package poolgrowth is a checkout gateway that talks to the ledger service
// over a pool of persistent TCP connections: opened on demand, at most 32,
// idle ones kept for five minutes. Two seconds after start traffic steps from
// 20 to 280 requests a second (each holds a connection for 60-140 ms), so the
// pool opens connections, each with its 64 KB read and write buffers, until
// it reaches its limit, and then stays there. A control: growth that stops at
// a bound under a load step, not a leak.
package poolgrowth

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// ledgerConn is one connection to the ledger with its buffers.
type ledgerConn struct {
	nc       net.Conn
	r        *bufio.Reader
	w        *bufio.Writer
	lastUsed time.Time
}

// LedgerPool hands out ledger connections, opening new ones (up to max) when
// none is idle; callers beyond max wait for one to come back. Idle
// connections are kept (the ledger closes them after five idle minutes).
type LedgerPool struct {
	addr    string
	bufSize int
	idle    chan *ledgerConn // connections not in use
	slots   chan struct{}    // one token per open connection
	opened  atomic.Int64
}

// NewLedgerPool creates an empty pool of at most max connections.
func NewLedgerPool(addr string, max, bufSize int) *LedgerPool {
	return &LedgerPool{
		addr:    addr,
		bufSize: bufSize,
		idle:    make(chan *ledgerConn, max),
		slots:   make(chan struct{}, max),
	}
}

// get returns an idle connection or opens one; it waits while max are in use.
func (p *LedgerPool) get(ctx context.Context) (*ledgerConn, error) {
	select {
	case c := <-p.idle:
		return c, nil
	default:
	}
	select {
	case c := <-p.idle:
		return c, nil
	case p.slots <- struct{}{}: // room for one more connection
		c, err := p.dial(ctx)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *LedgerPool) dial(ctx context.Context) (*ledgerConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	p.opened.Add(1)
	return &ledgerConn{nc: nc, r: bufio.NewReaderSize(nc, p.bufSize), w: bufio.NewWriterSize(nc, p.bufSize)}, nil
}

// put returns a healthy connection to the idle list.
func (p *LedgerPool) put(c *ledgerConn) {
	c.lastUsed = time.Now()
	p.idle <- c // never blocks: at most cap(p.idle) connections exist
}

// discard closes a broken connection and frees its slot.
func (p *LedgerPool) discard(c *ledgerConn) {
	_ = c.nc.Close()
	<-p.slots
}

// Reserve asks the ledger to hold amount for an order and returns its answer.
func (p *LedgerPool) Reserve(ctx context.Context, order string, amount int64, hold time.Duration) (string, error) {
	c, err := p.get(ctx)
	if err != nil {
		return "", err
	}
	_ = c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c.w, "RESERVE %s %d %d\n", order, amount, hold.Milliseconds())
	if err := c.w.Flush(); err != nil {
		p.discard(c)
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		p.discard(c)
		return "", err
	}
	p.put(c)
	return line, nil
}
