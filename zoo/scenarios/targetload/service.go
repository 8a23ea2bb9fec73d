// Package targetload is the service bench/bench_target_load.py watches: a user
// profile store that keeps a large live heap (-scale GiB of small, pointer-rich
// records, as an in-memory cache of a real service would) and answers lookups
// on /api/profile of its pprof port. Its load comes from outside, from the
// bench-load-client peer, so request latency can be measured by a process the
// target's GC does not stop.
//
// It does not leak: one request in ten replaces a record (the old one becomes
// garbage), so the live heap stays level while the service allocates. It is a
// bench target, not in the manifest: there is no verdict to score.
package targetload

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "bench-live-heap",
		Story: "profile store holding -scale GiB of small pointer-rich records, serving lookups on /api/profile (bench only: load comes from outside)",
		Run:   run,
	})
}

// profile is one user as the store keeps it: about 320 bytes in six objects,
// five of them reached through the record's pointers, which the GC must follow.
type profile struct {
	id      uint64
	name    string
	email   string
	tags    []string
	friends []uint32 // ids, not pointers: a replaced profile must become garbage
	avatar  []byte
	updated int64
}

// Store is the profile cache; slots are replaced atomically by writers.
type Store struct {
	slots []atomic.Pointer[profile]
}

var tagWords = []string{"admin", "beta", "eu", "us", "mobile", "web", "trial", "paid"}

func newProfile(id uint64, rng *rand.Rand, n int) *profile {
	p := &profile{
		id:      id,
		name:    "user-" + strconv.FormatUint(id, 10),
		email:   "user" + strconv.FormatUint(id, 10) + "@example.com",
		tags:    []string{tagWords[rng.IntN(len(tagWords))], tagWords[rng.IntN(len(tagWords))]},
		friends: make([]uint32, 4),
		avatar:  make([]byte, 96),
		updated: time.Now().UnixNano(),
	}
	for i := range p.friends {
		p.friends[i] = uint32(rng.IntN(n))
	}
	return p
}

// approxProfileBytes is what one profile costs on the heap, size classes included.
const approxProfileBytes = 320

// buildStore fills a store of about `bytes` live bytes with the GC off: growing
// a multi-GiB heap through a dozen doubling collections would take minutes.
func buildStore(bytes int) *Store {
	n := max(bytes/approxProfileBytes, 1)
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	s := &Store{slots: make([]atomic.Pointer[profile], n)}
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	for i := range s.slots {
		s.slots[i].Store(newProfile(uint64(i), rng, n))
	}
	return s
}

// view is what /api/profile answers.
type view struct {
	ID      uint64   `json:"id"`
	Name    string   `json:"name"`
	Email   string   `json:"email"`
	Tags    []string `json:"tags"`
	Friends []string `json:"friends"`
	Render  int      `json:"render_bytes"`
}

// serveProfile looks a profile up (and, one request in ten, replaces it),
// renders it with its friends' names, and allocates a scratch buffer of kb KiB
// (the query's "kb", default 16) as a real handler's decoding and templating would.
func (s *Store) serveProfile(w http.ResponseWriter, r *http.Request) {
	n := len(s.slots)
	id, _ := strconv.Atoi(r.URL.Query().Get("id"))
	id = ((id % n) + n) % n
	kb, err := strconv.Atoi(r.URL.Query().Get("kb"))
	if err != nil || kb < 0 {
		kb = 16
	}
	p := s.slots[id].Load()
	if id%10 == 0 {
		rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
		p = newProfile(p.id, rng, n)
		s.slots[id].Store(p)
	}
	scratch := make([]byte, kb<<10)
	for i := 0; i < len(scratch); i += 512 {
		scratch[i] = byte(i)
	}
	v := view{ID: p.id, Name: p.name, Email: p.email, Tags: p.tags, Render: len(scratch)}
	for _, f := range p.friends {
		v.Friends = append(v.Friends, s.slots[int(f)%n].Load().name)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func run(ctx context.Context, env zoo.Env) error {
	started := time.Now()
	s := buildStore(env.Bytes(1 << 30))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	http.HandleFunc("GET /api/profile", s.serveProfile)
	// The bench waits for this line before it sends load.
	fmt.Printf("heap ready: %d profiles, HeapAlloc %d bytes, built in %.1f s\n",
		len(s.slots), ms.HeapAlloc, time.Since(started).Seconds())
	<-ctx.Done()
	runtime.KeepAlive(s)
	return nil
}
