package zoo

// Peers are the upstream services of client-side leak scenarios.
//
// When the service under test is the client that misbehaves (it never closes
// streams, connections or bodies), its upstream must not share its process:
// the upstream's half of the damage (server handlers blocked on flow control,
// per-connection server goroutines) would show up in the observed profiles,
// which is not what a production profile of the client looks like. A scenario
// therefore registers its upstream as a peer and starts it with StartPeer,
// which re-executes the zoo binary as "zoo -peer NAME" in a child process.
//
// The child never outlives the observed process: on Linux it is started with
// PR_SET_PDEATHSIG=SIGKILL from a goroutine locked to a thread that lives as
// long as the process, it is killed when StartPeer's ctx ends or StopPeers
// runs, and it exits by itself when its stdin (a pipe from the parent) reaches
// EOF. It stays in the parent's process group, so stopping the group (Ctrl-C,
// killpg) stops it too.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PeerAnnounce prefixes the line a peer process prints once it listens.
const PeerAnnounce = "peer listening on "

// peerStartTimeout bounds how long StartPeer waits for the announce line.
const peerStartTimeout = 10 * time.Second

var (
	peers   = map[string]func(ctx context.Context, ln net.Listener) error{}
	running []*peerProc
)

// RegisterPeer adds an upstream that scenarios can start with StartPeer. serve
// runs in the peer process: it serves ln until ctx is done (EnvFrom(ctx) holds
// the runner's -rate and -scale). It panics on duplicate names.
func RegisterPeer(name string, serve func(ctx context.Context, ln net.Listener) error) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := peers[name]; dup {
		panic(fmt.Sprintf("zoo: duplicate peer %q", name))
	}
	peers[name] = serve
}

// PeerNames lists registered peers, sorted.
func PeerNames() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(peers))
	for n := range peers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func lookupPeer(name string) (func(context.Context, net.Listener) error, bool) {
	mu.Lock()
	defer mu.Unlock()
	serve, ok := peers[name]
	return serve, ok
}

type envKey struct{}

// WithEnv returns ctx carrying env; the runner gives it to scenarios and peers.
func WithEnv(ctx context.Context, env Env) context.Context {
	return context.WithValue(ctx, envKey{}, env)
}

// EnvFrom returns the Env carried by ctx, or the zero Env (every default).
func EnvFrom(ctx context.Context) Env {
	env, _ := ctx.Value(envKey{}).(Env)
	return env
}

// peerProc is one running peer process.
type peerProc struct {
	name     string
	cmd      *exec.Cmd
	stdin    io.Closer
	done     chan struct{} // closed once the process has been reaped
	stopping atomic.Bool
}

// StartPeer runs the registered peer name in a child process and returns the
// address it serves on. The child is killed when ctx is done, by StopPeers, or
// by the kernel when this process dies; to keep an upstream for the life of
// the process, pass context.WithoutCancel(ctx). The child gets -rate and -scale
// from EnvFrom(ctx).
func StartPeer(ctx context.Context, name string) (addr string, err error) {
	if _, ok := lookupPeer(name); !ok {
		return "", fmt.Errorf("zoo: unknown peer %q", name)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	exe, argv0, err := selfExe()
	if err != nil {
		return "", fmt.Errorf("zoo: peer %s: %w", name, err)
	}
	args := []string{"-peer", name}
	env := EnvFrom(ctx)
	if env.Rate > 0 {
		args = append(args, "-rate", strconv.FormatFloat(env.Rate, 'g', -1, 64))
	}
	if env.Scale > 0 {
		args = append(args, "-scale", strconv.FormatFloat(env.Scale, 'g', -1, 64))
	}
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = argv0
	cmd.Stderr = os.Stderr // an *os.File: inherited, no copying goroutine
	cmd.SysProcAttr = peerSysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", fmt.Errorf("zoo: peer %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("zoo: peer %s: %w", name, err)
	}
	if err := startOnSpawnerThread(cmd); err != nil {
		return "", fmt.Errorf("zoo: start peer %s: %w", name, err)
	}
	p := &peerProc{name: name, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	mu.Lock()
	running = append(running, p)
	mu.Unlock()
	go p.reap()
	context.AfterFunc(ctx, p.stop)

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	timer := time.NewTimer(peerStartTimeout)
	defer timer.Stop()
	select {
	case s := <-line:
		if a, ok := strings.CutPrefix(strings.TrimSpace(s), PeerAnnounce); ok && a != "" {
			return a, nil
		}
		err = fmt.Errorf("zoo: peer %s did not announce its address (got %q)", name, s)
	case <-timer.C:
		err = fmt.Errorf("zoo: peer %s did not announce its address within %v", name, peerStartTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.stop()
	return "", err
}

// reap waits for the process and reports a failure nobody asked for (a clean
// exit is a peer that was told to stop, e.g. by a signal to the group).
func (p *peerProc) reap() {
	err := p.cmd.Wait()
	if err != nil && !p.stopping.Load() {
		fmt.Fprintf(os.Stderr, "zoo: peer %s exited: %v\n", p.name, err)
	}
	close(p.done)
}

// stop kills the peer and waits (briefly) until it is reaped.
func (p *peerProc) stop() {
	p.stopping.Store(true)
	_ = p.stdin.Close()
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
	}
}

// StopPeers kills every peer this process started and waits until they are
// gone. The runner calls it on its way out; the kernel (PDEATHSIG) and the
// peers' stdin watch cover exits that skip it.
func StopPeers() {
	mu.Lock()
	ps := running
	running = nil
	mu.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

// PDEATHSIG fires when the *thread* that created the child exits, and Go
// retires threads whose goroutine exits while locked to them. So every peer is
// started from one goroutine that locks its thread and never returns: that
// thread lives exactly as long as the process.
var (
	spawnerOnce sync.Once
	spawnReqs   chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

func startOnSpawnerThread(cmd *exec.Cmd) error {
	spawnerOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go peerSpawner(spawnReqs)
	})
	r := spawnReq{cmd: cmd, errc: make(chan error, 1)}
	spawnReqs <- r
	return <-r.errc
}

func peerSpawner(reqs <-chan spawnReq) {
	runtime.LockOSThread() // never unlocked: see above
	for r := range reqs {
		r.errc <- r.cmd.Start()
	}
}

// ServePeer is the peer side (cmd/zoo -peer NAME): it listens on 127.0.0.1:0,
// writes "peer listening on ADDR" to out and serves until ctx is done, serve
// returns, or parent (the parent's pipe; nil: none) reaches EOF.
func ServePeer(ctx context.Context, name string, parent io.Reader, out io.Writer) error {
	serve, ok := lookupPeer(name)
	if !ok {
		return fmt.Errorf("unknown peer %q (peers: %s)", name, strings.Join(PeerNames(), ", "))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if parent != nil {
		go func() {
			_, _ = io.Copy(io.Discard, parent) // returns at EOF: the parent is gone
			cancel()
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, ln) }()
	if _, err := fmt.Fprintf(out, "%s%s\n", PeerAnnounce, ln.Addr()); err != nil {
		return err
	}
	select {
	case err := <-errc:
		if err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	select { // let serve wind down, but not for long
	case <-errc:
	case <-time.After(time.Second):
	}
	return nil
}

// errNoExe is returned where the running binary cannot be found.
var errNoExe = errors.New("cannot locate the running executable")
