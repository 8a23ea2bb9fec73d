// Command states parks goroutines in many different wait states and serves
// net/http/pprof, so tests can capture real goroutine dumps in every format.
//
// It prints "listening on ADDR" once every goroutine is parked. With -panic it
// panics instead of serving (the crash output lists every goroutine when run
// with GOTRACEBACK=all); SIGQUIT makes the runtime dump everything and exit 2.
// Built with GOEXPERIMENT=goroutineleakprofile, /debug/pprof/goroutineleak
// reports the goroutines started by leakSenders as leaked.
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
	"sync"
	"syscall"
	"time"
)

// Everything the parked goroutines wait on stays reachable from these globals,
// so none of them counts as leaked except the leakSenders ones.
var (
	never     = make(chan int)
	alsoNever = make(chan string)
	full      = make(chan int)
	mu        sync.Mutex
	rw        sync.RWMutex // write-locked by main: readers park in RLock
	rw2       sync.RWMutex // read-locked by main: writers park in Lock
	wg        sync.WaitGroup
	cond      = sync.NewCond(&sync.Mutex{})
	parked    sync.WaitGroup
	conns     []net.Conn
	pipeFDs   [2]int
)

type server struct {
	name string
	jobs chan int
}

// loop is a method so dumps carry a main.(*server).loop frame.
func (s *server) loop(id int) {
	parked.Done()
	for j := range s.jobs {
		_ = j + id
	}
}

func recvWorker(id int, ch <-chan int) {
	parked.Done()
	v := <-ch
	_ = v + id
}

func sendWorker(id int) {
	parked.Done()
	full <- id
}

func selectWorker(id int, quit <-chan string) {
	parked.Done()
	select {
	case v := <-never:
		_ = v + id
	case <-quit:
	}
}

func selectForever() {
	parked.Done()
	select {}
}

func nilChanWorker() {
	var c chan int
	parked.Done()
	<-c
}

func mutexWorker(id int) {
	parked.Done()
	mu.Lock()
	_ = id
	mu.Unlock()
}

func rlockWorker() {
	parked.Done()
	rw.RLock()
	rw.RUnlock()
}

func wlockWorker() {
	parked.Done()
	rw2.Lock()
	rw2.Unlock()
}

func waitGroupWorker() {
	parked.Done()
	wg.Wait()
}

func condWorker() {
	cond.L.Lock()
	parked.Done()
	cond.Wait()
	cond.L.Unlock()
}

func sleeper(d time.Duration) {
	parked.Done()
	time.Sleep(d)
}

func ioWorker(c net.Conn) {
	parked.Done()
	buf := make([]byte, 1)
	_, _ = c.Read(buf)
}

func syscallWorker(fd int) {
	parked.Done()
	buf := make([]byte, 1)
	_, _ = syscall.Read(fd, buf)
}

func lockedWorker() {
	runtime.LockOSThread()
	parked.Done()
	<-never
}

// receive is small enough to be inlined: dumps print it as main.receive(...).
func receive[T any](ch <-chan T) T {
	return <-ch
}

func genericWorker() {
	parked.Done()
	_ = receive(alsoNever)
}

func labelled(tenant string) {
	labels := pprof.Labels("worker", "labelled", "tenant", tenant)
	pprof.Do(context.Background(), labels, func(context.Context) {
		parked.Done()
		<-never
	})
}

//go:noinline
func recurse(depth int) int {
	if depth == 0 {
		parked.Done()
		return <-never
	}
	return recurse(depth-1) + 1
}

// leakSenders starts goroutines that block sending on channels nobody else
// can reach once this function returns: the goroutineleak profile proves
// them leaked.
func leakSenders(n int) {
	for i := range n {
		ch := make(chan int)
		parked.Add(1)
		go func() {
			parked.Done()
			ch <- i
		}()
	}
}

func start(n int, f func()) {
	parked.Add(n)
	for range n {
		go f()
	}
}

func setupIO() error {
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
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	start(1, func() { ioWorker(c) })
	if err := syscall.Pipe(pipeFDs[:]); err != nil {
		return err
	}
	start(1, func() { syscallWorker(pipeFDs[0]) })
	return nil
}

func setup() error {
	mu.Lock()
	rw.Lock()
	rw2.RLock()
	wg.Add(1)
	for i := range 3 {
		start(1, func() { recvWorker(i, never) })
	}
	for i := range 2 {
		start(1, func() { sendWorker(i) })
		start(1, func() { selectWorker(i, alsoNever) })
		start(1, func() { mutexWorker(i) })
	}
	srv := &server{name: "jobs", jobs: make(chan int)}
	start(2, func() { srv.loop(7) })
	start(1, selectForever)
	start(1, nilChanWorker)
	start(1, rlockWorker)
	start(1, wlockWorker)
	start(2, waitGroupWorker)
	start(2, condWorker)
	start(2, func() { sleeper(time.Hour) })
	start(1, lockedWorker)
	start(1, genericWorker)
	start(1, func() { labelled("acme") })
	start(1, func() { labelled("globex") })
	start(1, func() { _ = recurse(120) })
	leakSenders(3)
	if err := setupIO(); err != nil {
		return err
	}
	parked.Wait()
	// Done runs just before each goroutine parks: give them time to get there.
	time.Sleep(200 * time.Millisecond)
	return nil
}

func main() {
	doPanic := flag.Bool("panic", false, "panic once every goroutine is parked")
	flag.Parse()
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
	if *doPanic {
		panic(fmt.Sprintf("boom after parking %d goroutines", runtime.NumGoroutine()))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	_ = http.Serve(ln, nil)
}
