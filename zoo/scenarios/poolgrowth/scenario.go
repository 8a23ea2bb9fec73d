package poolgrowth

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "pool-grows-to-limit",
		Story: "checkout gateway's ledger connection pool (max 32, 64 KB buffers each) grows to its limit when traffic steps from 20 to 280 req/s two seconds in, then stays flat",
		Run:   run,
	})
	zoo.RegisterPeer(ledgerPeer, serveLedger)
}

const ledgerPeer = "pool-grows-to-limit/ledger"

// Gateway is the checkout API.
type Gateway struct {
	ledger *LedgerPool
	rng    *rand.Rand
	ok     atomic.Int64
	failed atomic.Int64
}

// checkout handles one request on its own goroutine, as an HTTP server would.
func (g *Gateway) checkout(ctx context.Context, n int, hold time.Duration) {
	if _, err := g.ledger.Reserve(ctx, "ord-"+strconv.Itoa(n), int64(100+n%5000), hold); err != nil {
		g.failed.Add(1)
		return
	}
	g.ok.Add(1)
}

func run(ctx context.Context, env zoo.Env) error {
	addr, err := zoo.StartPeer(context.WithoutCancel(ctx), ledgerPeer)
	if err != nil {
		return err
	}
	g := &Gateway{ledger: NewLedgerPool(addr, 32, env.Bytes(64<<10)), rng: rand.New(rand.NewPCG(7, 32))}
	reqCtx := context.WithoutCancel(ctx) // requests in flight finish after the load stops
	// Quiet start, then the step: the morning rush arrives two seconds in.
	quiet, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	zoo.Every(quiet, 20, func(i int) { go g.checkout(reqCtx, i, 100*time.Millisecond) })
	peak := env.RateOr(280)
	zoo.Every(ctx, peak, func(i int) {
		hold := time.Duration(60+g.rng.IntN(81)) * time.Millisecond // 60-140 ms at the ledger
		go g.checkout(reqCtx, 1_000_000+i, hold)
	})
	return nil
}

// serveLedger is the ledger service (a peer process): it answers each
// RESERVE line after the hold the request asks for, one goroutine per connection.
func serveLedger(ctx context.Context, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go serveLedgerConn(nc)
	}
}

func serveLedgerConn(nc net.Conn) {
	defer nc.Close()
	r := bufio.NewReader(nc)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "RESERVE" {
			fmt.Fprintf(nc, "ERR bad request\n")
			continue
		}
		ms, _ := strconv.Atoi(f[3])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(nc, "OK %s reserved\n", f[1])
	}
}
