package ginjournal

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "gin-raw-context-retained",
		Story: "gin request-journal middleware appends the raw *gin.Context (gin's pooled context, not c.Copy()) to a global slice: every context gin allocates stays live with the last request it served",
		Run:   run,
	})
	zoo.Register(zoo.Scenario{
		Name:  "gin-raw-context-retained-fixed",
		Story: "the fix of gin-raw-context-retained: the journal keeps the last 512 entries of values copied out of the context (method, route, status, latency); the *gin.Context goes back to gin's pool",
		Run: func(ctx context.Context, env zoo.Env) error {
			journalMu.Lock()
			journalRing = &entryRing{entries: make([]journalEntry, 512)}
			journalMu.Unlock()
			return run(ctx, env)
		},
	})
	zoo.RegisterPeer(storefrontPeer, serveStorefront)
}

const storefrontPeer = "gin-raw-context-retained/storefront"

func run(ctx context.Context, env zoo.Env) error {
	gin.SetMode(gin.ReleaseMode)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newRouter(newCatalogAPI(env.Bytes(8 << 10))), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	// The storefront (the shop's backend-for-frontend) runs in a peer process,
	// as in production, and stops with the load. It learns the catalogue
	// API's address from the first line sent to it.
	addr, err := zoo.StartPeer(ctx, storefrontPeer)
	if err != nil {
		return err
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(conn, "http://%s\n", ln.Addr())
	_ = conn.Close()
	if err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
