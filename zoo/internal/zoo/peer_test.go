package zoo

import (
	"context"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

const echoPeer = "test/echo"

func init() {
	RegisterPeer(echoPeer, func(ctx context.Context, ln net.Listener) error {
		context.AfterFunc(ctx, func() { _ = ln.Close() })
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			_, _ = c.Write([]byte("ok"))
			_ = c.Close()
		}
	})
}

// TestMain doubles as the peer process: StartPeer re-executes the test binary
// with "-peer NAME ..." (cmd/zoo's flag), which never reaches the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "-peer" {
		if err := ServePeer(context.Background(), os.Args[2], os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Pin the main goroutine to the main thread, which Go never retires, so
	// the goroutines below run (and their locked threads exit) elsewhere.
	runtime.LockOSThread()
	os.Exit(m.Run())
}

func dialOK(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial peer: %v", err)
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "ok" {
		t.Fatalf("peer greeting %q, %v", buf, err)
	}
}

func gone(p *peerProc) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(3 * time.Second):
		return false
	}
}

func lastPeer(t *testing.T) *peerProc {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if len(running) == 0 {
		t.Fatal("no running peer")
	}
	return running[len(running)-1]
}

func TestStartPeerStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := StartPeer(ctx, echoPeer)
	if err != nil {
		t.Fatal(err)
	}
	dialOK(t, addr)
	p := lastPeer(t)
	cancel()
	if !gone(p) {
		t.Fatal("peer still running after its context ended")
	}
}

// The child must survive the exit of the OS thread of the goroutine that
// asked for it (PDEATHSIG is per thread), and go away with StopPeers.
func TestPeerOutlivesCallerThread(t *testing.T) {
	type res struct {
		addr string
		err  error
	}
	out := make(chan res)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		addr, err := StartPeer(context.Background(), echoPeer)
		out <- res{addr, err}
	}()
	r := <-out
	if r.err != nil {
		t.Fatal(r.err)
	}
	p := lastPeer(t)
	time.Sleep(200 * time.Millisecond)
	dialOK(t, r.addr)
	StopPeers()
	if !gone(p) {
		t.Fatal("peer still running after StopPeers")
	}
}

func TestServePeerExitsOnParentEOF(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ServePeer(context.Background(), echoPeer, pr, outW) }()
	buf := make([]byte, 128)
	if _, err := outR.Read(buf); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ServePeer still serving after its parent pipe closed")
	}
}

func TestStartPeerUnknown(t *testing.T) {
	if _, err := StartPeer(context.Background(), "test/nope"); err == nil {
		t.Fatal("no error for an unknown peer")
	}
}
