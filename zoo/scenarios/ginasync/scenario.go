// Package ginasync is a reporting API whose export handler renders in a
// goroutine that captures the *gin.Context and blocks forever once the
// handler has timed out and returned.
package ginasync

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "gin-goroutine-captures-context",
		Story: "gin export handler renders in a goroutine holding c; after the handler times out the goroutine blocks forever sending its result",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "gin-goroutine-captures-context-fixed",
		Story: "the fix of gin-goroutine-captures-context: the renderer gets c.Copy() and a result channel with room for its one result, so it finishes after the handler gave up",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	gin.SetMode(gin.ReleaseMode)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h := &ReportHandler{
		deadline:   5 * time.Millisecond,
		queryTime:  50 * time.Millisecond,
		reportSize: env.Bytes(8 << 10),
		fixed:      fixed,
	}
	srv := &http.Server{Handler: newRouter(h), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	dash := &dashboardClient{
		base: "http://" + ln.Addr().String(),
		http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}},
	}
	zoo.Every(ctx, env.RateOr(80), dash.fetchLedger)
	dash.http.CloseIdleConnections()
	return nil
}

// dashboardClient is the load generator (the finance dashboard polling exports).
type dashboardClient struct {
	base string
	http *http.Client
}

func (d *dashboardClient) fetchLedger(i int) {
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/reports/ledger.csv?month=2026-%02d", d.base, i%12+1), nil)
	if err != nil {
		return
	}
	req.Header.Set("X-Api-Key", fmt.Sprintf("k%03d", i%500))
	resp, err := d.http.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}
