package ginjournal

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

// tiles is the product tiles a category page shows, fetched concurrently
// over as many keep-alive connections.
const tiles = 64

// serveStorefront is the peer: it reads the catalogue API's base URL from the
// first connection to ln, then browses it until ctx is done.
func serveStorefront(ctx context.Context, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	conn, err := ln.Accept()
	if err != nil {
		return nil // stopped before the API called in
	}
	base, err := bufio.NewReader(conn).ReadString('\n')
	_ = conn.Close()
	if err != nil {
		return fmt.Errorf("storefront: no API address: %w", err)
	}
	env := zoo.EnvFrom(ctx)
	sf := &storefront{
		base: strings.TrimSpace(base),
		http: &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{MaxConnsPerHost: tiles, MaxIdleConnsPerHost: tiles},
		},
		token:  strings.Repeat("t", 1200),
		cookie: "session=" + strings.Repeat("c", env.Bytes(8<<10)),
	}
	// Shoppers browse steadily; every 1.5 s a category page renders and
	// fetches its 64 product tiles at once (the first one right away).
	sf.categoryPage(0, tiles)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		zoo.Every(ctx, 1/1.5, func(i int) { sf.categoryPage(i+1, tiles) })
	}()
	zoo.Every(ctx, env.RateOr(30), func(i int) { sf.fetch(fmt.Sprintf("p-%d", i%5000), i) })
	wg.Wait()
	return nil
}

// storefront is the load generator: the web shop's backend-for-frontend.
type storefront struct {
	base   string
	http   *http.Client
	token  string
	cookie string
}

// categoryPage fetches n product tiles concurrently.
func (sf *storefront) categoryPage(page, n int) {
	var wg sync.WaitGroup
	for j := 0; j < n; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sf.fetch(fmt.Sprintf("p-%d", (page*n+j)%5000), page*1000+j)
		}()
	}
	wg.Wait()
}

func (sf *storefront) fetch(id string, n int) {
	req, err := http.NewRequest(http.MethodGet, sf.base+"/v1/products/"+id, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+sf.token)
	req.Header.Set("Cookie", sf.cookie)
	req.Header.Set("X-Request-Id", fmt.Sprintf("req-%012d", n))
	req.Header.Set("Traceparent", fmt.Sprintf("00-%032x-%016x-01", n, n))
	resp, err := sf.http.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}
