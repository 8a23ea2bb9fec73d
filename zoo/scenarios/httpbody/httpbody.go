// Package httpbody is a stock-availability client that never closes response
// bodies. The inventory upstream streams NDJSON; the client decodes only the
// first record and returns without resp.Body.Close(). The unread body keeps the
// connection out of the keep-alive pool, so every call dials a new connection
// whose readLoop/writeLoop goroutines and buffers stay behind forever.
package httpbody

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

const inventoryPeer = "http-body-not-closed/inventory"

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "http-body-not-closed",
		Story: "inventory client decodes the first NDJSON record and never closes resp.Body; connections and their read/write loops pile up (the inventory upstream runs as a separate peer process)",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "http-body-not-closed-fixed",
		Story: "the fix of http-body-not-closed: the client drains and closes resp.Body on every path, so connections go back to the pool",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
	zoo.RegisterPeer(inventoryPeer, serveInventory)
}

// StockLevel is one NDJSON record from the inventory service.
type StockLevel struct {
	SKU       string `json:"sku"`
	Warehouse string `json:"warehouse"`
	Available int    `json:"available"`
}

// inventoryServer is the upstream (a separate service in production, a peer
// process here).
type inventoryServer struct {
	recordsPerReply int
}

func (s *inventoryServer) serveStock(w http.ResponseWriter, r *http.Request) {
	sku := r.URL.Query().Get("sku")
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for i := 0; i < s.recordsPerReply; i++ {
		_ = enc.Encode(StockLevel{SKU: sku, Warehouse: fmt.Sprintf("wh-%03d", i), Available: i * 3})
	}
}

// InventoryClient looks up stock levels.
type InventoryClient struct {
	baseURL string
	http    *http.Client
	// baggage is the size of the request-scoped trace context each call carries.
	baggage int
	// closeBodies drains and closes every response body (the fix).
	closeBodies bool
}

type traceBaggageKey struct{}

// FetchStock returns the stock level in the primary warehouse.
// BUG: resp.Body is never closed (and not drained), so the connection can
// neither be reused nor released.
func (c *InventoryClient) FetchStock(sku string) (StockLevel, error) {
	// Request-scoped trace baggage rides on the request's context, as tracing
	// middleware does; a response whose body is never closed keeps its request,
	// and so this, alive for as long as the connection lives.
	baggage := make([]byte, c.baggage)
	copy(baggage, sku)
	ctx := context.WithValue(context.Background(), traceBaggageKey{}, baggage)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/v1/stock?sku="+sku, nil)
	if err != nil {
		return StockLevel{}, err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := c.http.Do(req)
	if err != nil {
		return StockLevel{}, err
	}
	if c.closeBodies {
		defer func() {
			_, _ = io.Copy(io.Discard, resp.Body) // lets the connection be reused
			_ = resp.Body.Close()
		}()
	}
	if resp.StatusCode != http.StatusOK {
		return StockLevel{}, fmt.Errorf("inventory: %s", resp.Status)
	}
	var first StockLevel
	err = json.NewDecoder(resp.Body).Decode(&first)
	return first, err
}

// serveInventory is the upstream inventory service, run in the peer process.
func serveInventory(ctx context.Context, ln net.Listener) error {
	env := zoo.EnvFrom(ctx)
	// Each record is ~60 bytes; the default reply is ~30 KB, far more than
	// the client's first Decode reads.
	inv := &inventoryServer{recordsPerReply: max(env.Bytes(500), 50)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/stock", inv.serveStock)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		// The upstream drops idle keep-alive connections, as a real service
		// would; the client side still never notices because nobody reads.
		IdleTimeout: 2 * time.Second,
	}
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	// The inventory service outlives the load (it goes with the process).
	addr, err := zoo.StartPeer(context.WithoutCancel(ctx), inventoryPeer)
	if err != nil {
		return err
	}
	client := &InventoryClient{
		baseURL:     "http://" + addr,
		http:        &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}},
		baggage:     env.Bytes(8 << 10),
		closeBodies: fixed,
	}
	zoo.Every(ctx, env.RateOr(30), func(i int) {
		_, _ = client.FetchStock(fmt.Sprintf("SKU-%06d", i))
	})
	return nil
}
