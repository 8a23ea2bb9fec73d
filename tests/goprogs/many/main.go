// Command many parks a large number of goroutines (default 100,000) in a
// realistic mix of a few dozen distinct stacks and wait states, some deep, for
// benchmarking dump parsers.
//
// With -out FILE it writes the debug=2 dump (runtime.Stack of all goroutines,
// not capped at 64 MB like /debug/pprof/goroutine?debug=2) and exits;
// otherwise it serves net/http/pprof and prints "listening on ADDR".
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

type request struct {
	id     int
	path   string
	result chan []byte
}

type pool struct {
	name  string
	tasks chan *request
	stop  chan struct{}
}

var (
	never    = make(chan int)
	results  = make(chan *request)
	mu       sync.Mutex
	rw       sync.RWMutex
	wg       sync.WaitGroup
	cond     = sync.NewCond(&sync.Mutex{})
	parked   sync.WaitGroup
	conns    []net.Conn
	hold     []*request
	holdLock sync.Mutex
)

func (p *pool) worker(id int) {
	parked.Done()
	for {
		select {
		case r := <-p.tasks:
			r.result <- []byte(p.name)
		case <-p.stop:
			return
		}
	}
}

func (p *pool) batcher(id int) {
	parked.Done()
	batch := make([]*request, 0, 16)
	for r := range p.tasks {
		batch = append(batch, r)
	}
	_ = id + len(batch)
}

func (p *pool) flusher(id int, every time.Duration) {
	parked.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-p.stop:
			return
		}
	}
}

func handle(r *request) {
	switch r.id % 6 {
	case 0:
		listUsers(r)
	case 1:
		getOrder(r)
	case 2:
		search(r)
	case 3:
		checkout(r)
	case 4:
		upload(r)
	default:
		validate(r)
	}
}

//go:noinline
func listUsers(r *request) { validate(r) }

//go:noinline
func getOrder(r *request) { validate(r) }

//go:noinline
func search(r *request) { authorize(r) }

//go:noinline
func checkout(r *request) { fetchUpstream(r) }

//go:noinline
func upload(r *request) { fetchUpstream(r) }

//go:noinline
func validate(r *request) {
	authorize(r)
}

//go:noinline
func authorize(r *request) {
	fetchUpstream(r)
}

//go:noinline
func fetchUpstream(r *request) {
	parked.Done()
	r.result = make(chan []byte)
	holdLock.Lock()
	hold = append(hold, r)
	holdLock.Unlock()
	<-r.result
}

//go:noinline
func publish(r *request) {
	parked.Done()
	results <- r
}

//go:noinline
func cacheRefresh(key string) {
	parked.Done()
	mu.Lock()
	_ = key
	mu.Unlock()
}

//go:noinline
func readConfig(n int) {
	parked.Done()
	rw.RLock()
	_ = n
	rw.RUnlock()
}

//go:noinline
func batchWait(n int) {
	parked.Done()
	wg.Wait()
	_ = n
}

//go:noinline
func queueWait(n int) {
	cond.L.Lock()
	parked.Done()
	cond.Wait()
	cond.L.Unlock()
	_ = n
}

//go:noinline
func backoff(attempt int) {
	parked.Done()
	time.Sleep(time.Duration(attempt+1) * time.Hour)
}

//go:noinline
func idle() {
	parked.Done()
	select {}
}

//go:noinline
func readLoop(c net.Conn) {
	parked.Done()
	buf := make([]byte, 512)
	_, _ = c.Read(buf)
}

//go:noinline
func walk(depth, id int) int {
	if depth == 0 {
		parked.Done()
		return <-never + id
	}
	return walk(depth-1, id) + 1
}

//go:noinline
func tenantJob(tenant string, id int) {
	labels := pprof.Labels("tenant", tenant, "job", "sync-"+strconv.Itoa(id%4))
	pprof.Do(context.Background(), labels, func(context.Context) {
		parked.Done()
		<-never
	})
}

// mix is the share (per mille) of each kind of goroutine.
var mix = []struct {
	permille int
	start    func(i int)
}{
	{300, func(i int) { handle(&request{id: i, path: "/api/" + strconv.Itoa(i%7)}) }},
	{60, func(i int) { publish(&request{id: i}) }},
	{50, func(i int) { cacheRefresh("k" + strconv.Itoa(i)) }},
	{40, func(i int) { readConfig(i) }},
	{40, func(i int) { batchWait(i) }},
	{40, func(i int) { queueWait(i) }},
	{60, func(i int) { backoff(i % 5) }},
	{10, func(i int) { idle() }},
	{100, func(i int) { tenantJob([]string{"acme", "globex", "initech"}[i%3], i) }},
	{15, func(i int) { _ = walk(20, i) }},
	{10, func(i int) { _ = walk(35, i) }},
	{10, func(i int) { _ = walk(150, i) }},
	{5, func(i int) { _ = walk(400, i) }},
}

func startPools(n int) {
	started := 0
	for p := range 8 {
		pl := &pool{name: "pool-" + strconv.Itoa(p), tasks: make(chan *request), stop: make(chan struct{})}
		for w := range n / 8 {
			parked.Add(1)
			switch w % 10 {
			case 0:
				go pl.batcher(w)
			case 1:
				go pl.flusher(w, time.Hour)
			default:
				go pl.worker(w)
			}
			started++
		}
	}
	for ; started < n; started++ {
		parked.Add(1)
		go idle()
	}
}

func startIO(n int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		parked.Add(1)
		go readLoop(c)
	}
	return nil
}

func setup(total int) error {
	mu.Lock()
	rw.Lock()
	wg.Add(1)
	started := 0
	for _, m := range mix {
		n := total * m.permille / 1000
		for i := range n {
			parked.Add(1)
			go m.start(i)
		}
		started += n
	}
	io := min(200, total/100)
	if err := startIO(io); err != nil {
		return err
	}
	startPools(total - started - io)
	parked.Wait()
	time.Sleep(time.Duration(200+total/200) * time.Millisecond)
	return nil
}

func main() {
	n := flag.Int("n", 100000, "number of goroutines to park")
	out := flag.String("out", "", "write the debug=2 dump to this file and exit")
	flag.Parse()
	if err := setup(*n); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
	if *out != "" {
		buf := make([]byte, 64<<20)
		for {
			k := runtime.Stack(buf, true)
			if k < len(buf) {
				buf = buf[:k]
				break
			}
			buf = make([]byte, 2*len(buf))
		}
		if err := os.WriteFile(*out, buf, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	_ = http.Serve(ln, nil)
}
