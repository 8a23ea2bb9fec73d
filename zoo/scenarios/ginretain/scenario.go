// Package ginretain is an order API whose audit middleware queues every
// request's gin.Context in a package-level backlog that is never drained.
package ginretain

import (
	"bytes"
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
		Name:  "gin-context-retained",
		Story: "gin audit middleware appends each request's *gin.Context (request, keys, body snapshot) to a global backlog nobody drains",
		Run:   run,
	})
	zoo.Register(zoo.Scenario{
		Name:  "gin-context-retained-fixed",
		Story: "the fix of gin-context-retained: the audit middleware hands a small record of extracted values (never the *gin.Context) to a shipper goroutine through a bounded channel",
		Run: func(ctx context.Context, env zoo.Env) error {
			ship := make(chan auditRecord, 256)
			go shipAudits(ship)
			auditMu.Lock()
			auditShipper = ship
			auditMu.Unlock()
			return run(ctx, env)
		},
	})
}

func run(ctx context.Context, env zoo.Env) error {
	gin.SetMode(gin.ReleaseMode)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newRouter(&OrderAPI{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	client := &orderClient{
		base: "http://" + ln.Addr().String(),
		http: &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 4},
		},
		body: make([]byte, env.Bytes(4<<10)),
	}
	for i := range client.body {
		client.body[i] = 'a' + byte(i%26)
	}
	zoo.Every(ctx, env.RateOr(200), client.placeOrder)
	client.http.CloseIdleConnections()
	return nil
}

// orderClient is the load generator (the storefront calling the order API).
type orderClient struct {
	base string
	http *http.Client
	body []byte
}

func (oc *orderClient) placeOrder(i int) {
	url := fmt.Sprintf("%s/v1/orders/%d", oc.base, i)
	resp, err := oc.http.Post(url, "application/json", bytes.NewReader(oc.body))
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}
