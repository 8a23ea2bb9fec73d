// Command anchor writes real heap, allocs and goroutine profiles at two points
// of one run, for comparing leakhunter top/diff with go tool pprof.
//
// Usage: anchor OUTDIR. It writes OUTDIR/{heap,allocs,goroutine}{1,2}.pb.gz.
// The allocation sites exercise what pprof's aggregation must get right:
// recursion (a function several times on one stack), mutual recursion,
// inlining (small helpers without //go:noinline, so locations carry several
// lines), one function allocating at many call sites, tiny sites that fall
// under the node-fraction cut, memory freed between the two snapshots (negative
// diffs), and goroutines labelled with pprof.Do.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
)

var (
	keep   [][]byte // retained across both snapshots
	phase1 [][]byte // retained in snapshot 1, freed before snapshot 2
	sink   []byte   // garbage
	never  = make(chan struct{})
)

// Inlinable helpers: each caller's location gets several lines.
func mk(n int) []byte         { return make([]byte, n) }
func middle(n int) []byte     { return mk(n*2 + 8) }
func outer(n int) []byte      { return middle(n + 16) }
func retain(b []byte)         { keep = append(keep, b) }
func retain1(b []byte)        { phase1 = append(phase1, b) }
func scratch(n int)           { sink = mk(n) }
func nested(n int) []byte     { return outer(n) }
func tinyString(i int) string { return "t" + strconv.Itoa(i) }

//go:noinline
func recurse(depth, n int, into func([]byte)) {
	if depth == 0 {
		into(outer(n))
		return
	}
	if depth%3 == 0 {
		scratch(n / 4)
	}
	if depth%4 == 1 {
		into(mk(n / 8))
	}
	recurse(depth-1, n, into)
}

//go:noinline
func ping(d int) {
	if d <= 0 {
		retain(make([]byte, 3000))
		return
	}
	if d%2 == 0 {
		scratch(200)
	}
	pong(d - 1)
}

//go:noinline
func pong(d int) {
	if d%3 == 0 {
		retain(mk(700))
	}
	ping(d - 1)
}

//go:noinline
func manySites(i int) {
	switch i % 12 {
	case 0:
		retain(mk(100))
	case 1:
		retain(mk(200))
	case 2:
		retain(mk(300))
	case 3:
		retain(middle(40))
	case 4:
		retain(outer(50))
	case 5:
		scratch(600)
	case 6:
		retain(nested(70))
	case 7:
		retain1(mk(800))
	case 8:
		retain1(outer(90))
	case 9:
		scratch(1000)
	case 10:
		retain(make([]byte, 1100))
	default:
		retain1(make([]byte, 1200))
	}
}

//go:noinline
func tiny() {
	for i := 0; i < 3; i++ {
		sink = []byte(tinyString(i))
	}
}

//go:noinline
func park(depth int) {
	if depth > 0 {
		park(depth - 1)
		return
	}
	<-never
}

func startParked(label string, n, depth int) {
	pprof.Do(context.Background(), pprof.Labels("pool", label), func(context.Context) {
		for i := 0; i < n; i++ {
			go park(depth + i%3)
		}
	})
}

//go:noinline
func phaseOne() {
	for i := 0; i < 60; i++ {
		manySites(i)
	}
	recurse(9, 512, retain)
	recurse(7, 256, retain1)
	ping(9)
	tiny()
	startParked("a", 6, 2)
	for i := 0; i < 3; i++ {
		go park(0)
	}
}

//go:noinline
func phaseTwo() {
	phase1 = nil
	for i := 0; i < 90; i++ {
		manySites(i * 7)
	}
	recurse(12, 1024, retain)
	ping(14)
	tiny()
	startParked("b", 9, 4)
}

func write(dir, name string) {
	f, err := os.Create(filepath.Join(dir, name+".pb.gz"))
	if err != nil {
		panic(err)
	}
	kind := name[:len(name)-1]
	if err := pprof.Lookup(kind).WriteTo(f, 0); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}

func snapshot(dir, suffix string) {
	runtime.GC()
	runtime.GC()
	for _, kind := range []string{"heap", "allocs", "goroutine"} {
		write(dir, kind+suffix)
	}
}

func main() {
	runtime.MemProfileRate = 1
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: anchor OUTDIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	phaseOne()
	snapshot(dir, "1")
	phaseTwo()
	snapshot(dir, "2")
	runtime.KeepAlive(keep)
}
