// Package chanrecv is a write path whose commit watcher waits forever.
//
// Each write request stages its payload and starts a goroutine that finalises
// the write once the commit log acknowledges it. When the append fails (a
// replica timeout, most of the time under this load) the handler returns early
// and nobody ever sends on the acknowledgement channel: the watcher, and the
// staged payload it holds, stay parked in "chan receive" forever. The watcher
// does not watch any context, so nothing can wake it.
package chanrecv

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"sync/atomic"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "chan-receive-no-sender",
		Story: "write handler starts a commit watcher, returns early on replica timeout; watcher waits on an ack channel forever",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "chan-receive-no-sender-fixed",
		Story: "the fix of chan-receive-no-sender: the ack channel is buffered and the error path sends the error, so every watcher returns",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
}

var errReplicaTimeout = errors.New("commitlog: replica did not acknowledge in time")

type writeRequest struct {
	id       uint64
	tenant   string
	received time.Time
}

type commitResult struct {
	offset uint64
	err    error
}

// CommitLog stands in for a replicated log client.
type CommitLog struct {
	next atomic.Uint64
}

// Append replicates a record; one replica is lagging, so most appends time out.
func (l *CommitLog) Append(id uint64, record []byte) (uint64, error) {
	if id%10 != 0 {
		return 0, errReplicaTimeout
	}
	return l.next.Add(uint64(len(record))), nil
}

// Handler serves write requests.
type Handler struct {
	log         *CommitLog
	payloadSize int
	committed   atomic.Int64
	failed      atomic.Int64
	// lastChecksum is the checksum of the last durable record.
	lastChecksum atomic.Uint32
	// fixed signals the watcher on every path (the fixed variant).
	fixed bool
}

// handle stages the payload, starts the commit watcher and appends to the log.
// BUG: on the error path it returns without signalling the watcher.
func (h *Handler) handle(req *writeRequest) error {
	staged := make([]byte, h.payloadSize)
	encodeRecord(staged, req)
	done := make(chan commitResult, h.ackBuffer())
	go h.finalizeOnCommit(req, staged, done)
	off, err := h.log.Append(req.id, staged)
	if err != nil {
		h.failed.Add(1)
		if h.fixed {
			done <- commitResult{err: err} // the fix: the watcher always hears back
		}
		return err
	}
	done <- commitResult{offset: off}
	return nil
}

// finalizeOnCommit waits for the commit acknowledgement, then marks the write
// durable. It never looks at a context.
func (h *Handler) finalizeOnCommit(req *writeRequest, staged []byte, done <-chan commitResult) {
	res := <-done
	if res.err != nil {
		return
	}
	h.lastChecksum.Store(crc32.ChecksumIEEE(staged))
	h.committed.Add(1)
}

// ackBuffer is 1 in the fixed variant, so no send on done ever blocks.
func (h *Handler) ackBuffer() int {
	if h.fixed {
		return 1
	}
	return 0
}

func encodeRecord(dst []byte, req *writeRequest) {
	if len(dst) < 16 {
		return
	}
	binary.LittleEndian.PutUint64(dst, req.id)
	binary.LittleEndian.PutUint64(dst[8:], uint64(req.received.UnixNano()))
	copy(dst[16:], req.tenant)
	for i := 16 + len(req.tenant); i < len(dst); i += 64 {
		dst[i] = byte(i)
	}
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	h := &Handler{log: &CommitLog{}, payloadSize: env.Bytes(8 << 10), fixed: fixed}
	tenants := []string{"acme", "globex", "initech", "umbrella"}
	zoo.Every(ctx, env.RateOr(50), func(i int) {
		_ = h.handle(&writeRequest{id: uint64(i) + 1, tenant: tenants[i%len(tenants)], received: time.Now()})
	})
	return nil
}
