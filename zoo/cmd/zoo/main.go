// Command zoo runs one leak-zoo scenario: it serves net/http/pprof on a loopback
// port, prints "listening on 127.0.0.1:PORT", drives the scenario's load for
// -duration, then keeps serving for -linger (so late snapshots still answer) and
// exits by itself.
package main

import (
	"context"
	"expvar"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func main() {
	name := flag.String("scenario", "", "scenario to run (see -list)")
	addr := flag.String("addr", "127.0.0.1:0", "pprof listen address (loopback)")
	duration := flag.Duration("duration", 60*time.Second, "how long the scenario drives load")
	linger := flag.Duration("linger", 10*time.Minute, "how long to keep serving pprof after the load stops")
	rate := flag.Float64("rate", 0, "operations per second (0: scenario default)")
	scale := flag.Float64("scale", 1, "payload size multiplier")
	list := flag.Bool("list", false, "list scenarios and exit")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (0: Go's default, 512 KiB)")
	flag.Parse()
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}

	if *list {
		for _, n := range zoo.Names() {
			s, _ := zoo.Lookup(n)
			fmt.Printf("%-34s %s\n", n, s.Story)
		}
		return
	}
	s, ok := zoo.Lookup(*name)
	if !ok {
		fmt.Fprintf(os.Stderr, "zoo: unknown scenario %q (use -list)\n", *name)
		os.Exit(2)
	}
	// Expose the memory limit the way a service might, so time-to-OOM can use it.
	expvar.Publish("gomemlimit", expvar.Func(func() any { return debug.SetMemoryLimit(-1) }))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "zoo: listen: %v\n", err)
		os.Exit(2)
	}
	go func() { _ = http.Serve(ln, nil) }()
	fmt.Printf("listening on %s\n", ln.Addr().String())
	fmt.Printf("scenario %s: %s\n", s.Name, s.Story)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	loadCtx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	if err := s.Run(loadCtx, zoo.Env{Rate: *rate, Scale: *scale}); err != nil {
		fmt.Fprintf(os.Stderr, "zoo: scenario %s: %v\n", s.Name, err)
		os.Exit(1)
	}
	fmt.Println("load done")
	select {
	case <-ctx.Done():
	case <-time.After(*linger):
	}
}
