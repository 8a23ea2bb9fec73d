// Package tickerleak is a session manager that starts a keepalive ticker and a
// goroutine ranging over ticker.C for every new session, and never stops either
// when the session ends. Tickers, goroutines and the session state they
// reference accumulate with traffic.
package tickerleak

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "ticker-not-stopped",
		Story: "each session starts a keepalive time.NewTicker and a goroutine ranging over ticker.C; neither is ever stopped",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "ticker-not-stopped-fixed",
		Story: "the fix of ticker-not-stopped: closeSession closes the session's done channel; keepalive then stops its ticker and returns",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
}

type session struct {
	id       string
	user     string
	lastSeen atomic.Int64
	pings    atomic.Int64
	outbox   []byte        // per-session send buffer
	done     chan struct{} // closed by closeSession in the fixed variant; nil otherwise
}

// SessionManager opens client sessions.
type SessionManager struct {
	keepaliveEvery time.Duration
	outboxSize     int
	opened         atomic.Int64
	// stopOnClose gives sessions a done channel that ends their keepalive (the fix).
	stopOnClose bool
}

// openSession handles a login: it builds the session and starts its keepalive.
func (m *SessionManager) openSession(id, user string) *session {
	s := &session{id: id, user: user, outbox: make([]byte, m.outboxSize)}
	if m.stopOnClose {
		s.done = make(chan struct{})
	}
	s.lastSeen.Store(time.Now().UnixNano())
	m.startKeepalive(s)
	m.opened.Add(1)
	return s
}

// startKeepalive pings the session periodically.
// BUG: the ticker is never stopped and the goroutine never exits, even after
// the session is closed.
func (m *SessionManager) startKeepalive(s *session) {
	t := time.NewTicker(m.keepaliveEvery)
	go m.keepalive(s, t)
}

// keepalive ranges over the ticker channel; ticker.C is never closed, so this
// loop never ends.
func (m *SessionManager) keepalive(s *session, t *time.Ticker) {
	if s.done != nil {
		m.keepaliveUntilClosed(s, t)
		return
	}
	for now := range t.C {
		s.pings.Add(1)
		if now.UnixNano()-s.lastSeen.Load() > int64(time.Hour) {
			s.outbox = s.outbox[:0]
		}
	}
}

// closeSession is what the logout path calls; it forgets to stop the keepalive.
func (m *SessionManager) closeSession(s *session) {
	s.lastSeen.Store(0)
	if s.done != nil {
		close(s.done)
	}
}

// keepaliveUntilClosed is the fixed keepalive: it stops its ticker and
// returns once the session is closed.
func (m *SessionManager) keepaliveUntilClosed(s *session, t *time.Ticker) {
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.pings.Add(1)
		}
	}
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	m := &SessionManager{keepaliveEvery: 2 * time.Second, outboxSize: env.Bytes(8 << 10), stopOnClose: fixed}
	zoo.Every(ctx, env.RateOr(40), func(i int) {
		s := m.openSession("sess-"+strconv.Itoa(i), "user-"+strconv.Itoa(i%977))
		m.closeSession(s)
	})
	return nil
}
