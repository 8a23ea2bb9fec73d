// Command leaks reproduces one leak pattern of the rule library at a steady rate
// and serves net/http/pprof, so tests record real sessions of it.
//
//	leaks -pattern NAME [-rate N]
//
// It prints "listening on ADDR" once pprof is served, then runs the pattern
// until killed. Each pattern lives in its own function named after what the
// application code would be called in a real service, so stacks read naturally.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"sort"
	"time"
)

// patterns maps a pattern name to its driver: called rate times per second.
var patterns = map[string]func(i int){}

// setups run once before the first call of their pattern.
var setups = map[string]func(){}

func register(name string, setup func(), step func(i int)) {
	patterns[name] = step
	if setup != nil {
		setups[name] = setup
	}
}

func main() {
	name := flag.String("pattern", "", "leak pattern to run")
	rate := flag.Int("rate", 100, "operations per second")
	flag.Parse()
	step, ok := patterns[*name]
	if !ok {
		names := make([]string, 0, len(patterns))
		for n := range patterns {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "unknown pattern %q; known: %v\n", *name, names)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, nil)
	if setup := setups[*name]; setup != nil {
		setup()
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	every(*rate, step)
}

// every calls fn(i) rate times per second, in bursts every 10 ms.
func every(rate int, fn func(int)) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	start := time.Now()
	done := 0
	for now := range t.C {
		due := int(now.Sub(start).Seconds() * float64(rate))
		for ; done < due; done++ {
			fn(done)
		}
	}
}
