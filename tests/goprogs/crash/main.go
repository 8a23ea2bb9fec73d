// Command crash dies in the way its first argument names, so tests can capture
// real crash output (stderr) from the Go runtime:
//
//	panic     an unrecovered panic with a nested panic in a deferred call
//	segv      a nil pointer dereference ([signal SIGSEGV ...])
//	deadlock  fatal error: all goroutines are asleep - deadlock!
//	throw     fatal error: sync: unlock of unlocked mutex (runtime frames, gp= headers)
//	deep      a panic at the bottom of a deep recursion (elided frames)
//	wait      park a few goroutines, print "ready", then wait for SIGQUIT
//
// Run it with GOTRACEBACK=all (or system/crash) to list every goroutine.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

type node struct {
	next *node
	val  int
}

var (
	gate = make(chan struct{})
	mu   sync.Mutex
)

func park(n int, sleeper bool) {
	var ready sync.WaitGroup
	for i := range n {
		ready.Add(1)
		go func(id int) {
			ready.Done()
			<-gate
			_ = id
		}(i)
	}
	if sleeper {
		// A pending timer stops the runtime from declaring a deadlock.
		ready.Add(1)
		go func() {
			ready.Done()
			time.Sleep(time.Hour)
		}()
	}
	ready.Wait()
	time.Sleep(100 * time.Millisecond)
}

//go:noinline
func sum(n *node) int {
	return n.val + sum(n.next)
}

//go:noinline
func dive(depth int) int {
	if depth == 0 {
		panic(fmt.Errorf("bottom reached"))
	}
	return dive(depth-1) + 1
}

func nested() {
	defer func() {
		panic("second panic in defer")
	}()
	panic("first panic")
}

func main() {
	mode := "panic"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	park(3, mode != "deadlock")
	switch mode {
	case "panic":
		nested()
	case "segv":
		fmt.Println(sum(&node{val: 1}))
	case "deadlock":
		var never chan int
		go func() { <-never }()
		select {}
	case "throw":
		mu.Unlock()
	case "deep":
		dive(200)
	case "wait":
		fmt.Println("ready")
		select {}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(1)
	}
}
