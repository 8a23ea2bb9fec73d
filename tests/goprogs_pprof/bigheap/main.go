// Command bigheap writes large real heap profiles: with -depth D it walks a
// binary tree of recursion D levels deep once per leaf, choosing at each level
// between two functions by one bit of the leaf's number, so every leaf has its
// own call path (2^D distinct stacks) and retains an allocation there.
//
// Usage: bigheap -depth 18 -out1 A.pb.gz [-out2 B.pb.gz]. With -out2 it then
// frees every third leaf, allocates a second generation at a quarter of the
// leaves, and writes a second snapshot, for benchmarking diffs.
package main

import (
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
)

var leaves [][]byte

//go:noinline
func left(d int, path uint32, gen int) {
	if d == 0 {
		leaf(path, gen)
		return
	}
	if path>>uint(d-1)&1 == 0 {
		left(d-1, path, gen)
	} else {
		right(d-1, path, gen)
	}
}

//go:noinline
func right(d int, path uint32, gen int) {
	if d == 0 {
		leaf(path, gen)
		return
	}
	if path>>uint(d-1)&1 == 0 {
		left(d-1, path, gen)
	} else {
		right(d-1, path, gen)
	}
}

//go:noinline
func leaf(path uint32, gen int) {
	leaves[int(path)*2+gen] = make([]byte, 16+int(path%7)*8)
}

func walk(depth int, gen int, keep func(uint32) bool) {
	for p := uint32(0); p < 1<<uint(depth); p++ {
		if keep(p) {
			left(depth, p, gen)
		}
	}
}

func write(path string) {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}

func main() {
	runtime.MemProfileRate = 1
	depth := flag.Int("depth", 18, "recursion depth (2^depth distinct stacks)")
	out1 := flag.String("out1", "", "first snapshot")
	out2 := flag.String("out2", "", "second snapshot (optional)")
	flag.Parse()
	leaves = make([][]byte, 2<<uint(*depth))
	walk(*depth, 0, func(uint32) bool { return true })
	write(*out1)
	if *out2 == "" {
		return
	}
	for i := 0; i < len(leaves); i += 6 {
		leaves[i] = nil
	}
	walk(*depth, 1, func(p uint32) bool { return p%4 == 1 })
	write(*out2)
}
