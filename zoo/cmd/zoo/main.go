// Command zoo runs one leak-zoo scenario: it serves net/http/pprof on a loopback
// port, prints "listening on 127.0.0.1:PORT", drives the scenario's load for
// -duration, then keeps serving for -linger (so late snapshots still answer) and
// exits by itself.
//
// With -peer NAME it is instead one scenario's upstream service (started by
// zoo.StartPeer in a child process): it listens on 127.0.0.1:0, prints
// "peer listening on 127.0.0.1:PORT" and serves until its stdin pipe reaches
// EOF or it gets SIGINT/SIGTERM. A peer serves no pprof.
package main

import (
	"context"
	"expvar"
	"flag"
	"fmt"
	"io"
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
	memLimit := flag.Int64("memlimit", 0, "soft memory limit in bytes, like GOMEMLIMIT (0: unchanged)")
	crashAfter := flag.Duration("crash-after", 0, "panic after this long (tests of crash handling)")
	peer := flag.String("peer", "", "serve this scenario upstream (internal: started by the scenario itself)")
	flag.Parse()
	env := zoo.Env{Rate: *rate, Scale: *scale}
	if *peer != "" {
		os.Exit(servePeer(*peer, env))
	}
	if *crashAfter > 0 {
		time.AfterFunc(*crashAfter, func() { panic("zoo: crash requested by -crash-after") })
	}
	if *memLimit > 0 {
		debug.SetMemoryLimit(*memLimit)
	}
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
	defer zoo.StopPeers()
	if err := s.Run(zoo.WithEnv(loadCtx, env), env); err != nil {
		fmt.Fprintf(os.Stderr, "zoo: scenario %s: %v\n", s.Name, err)
		zoo.StopPeers()
		os.Exit(1)
	}
	fmt.Println("load done")
	select {
	case <-ctx.Done():
	case <-time.After(*linger):
	}
}

// servePeer runs the -peer mode and returns the exit status.
func servePeer(name string, env zoo.Env) int {
	ctx, stop := signal.NotifyContext(zoo.WithEnv(context.Background(), env), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Watch stdin for EOF only when it is a pipe (from the parent): a peer run
	// by hand with stdin on a terminal or /dev/null keeps serving.
	var parent io.Reader
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		parent = os.Stdin
	}
	if err := zoo.ServePeer(ctx, name, parent, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "zoo: peer %s: %v\n", name, err)
		return 1
	}
	return 0
}
