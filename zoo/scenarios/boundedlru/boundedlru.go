// Package boundedlru is a profile-image service fronted by a bounded LRU cache
// (container/list + map). Keys are high-cardinality, so the cache fills within
// a few seconds and then evicts continuously: memory plateaus. It is a control:
// a warming cache that must not be mistaken for a leak.
package boundedlru

import (
	"container/list"
	"context"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "bounded-lru",
		Story: "avatar service behind a bounded LRU (2500 entries x 4 KB); warms up in ~3 s, then evicts and plateaus",
		Run:   run,
	})
}

type lruEntry struct {
	key   string
	value []byte
}

// LRU is a fixed-capacity least-recently-used cache.
type LRU struct {
	mu        sync.Mutex
	capacity  int
	order     *list.List // front = most recent
	items     map[string]*list.Element
	hits      int64
	misses    int64
	evictions int64
}

// NewLRU returns an empty cache holding at most capacity entries.
func NewLRU(capacity int) *LRU {
	return &LRU{capacity: capacity, order: list.New(), items: make(map[string]*list.Element, capacity)}
}

// Get returns the cached value and marks it recently used.
func (c *LRU) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		c.hits++
		return el.Value.(*lruEntry).value, true
	}
	c.misses++
	return nil, false
}

// Add inserts a value, evicting the least recently used entries over capacity.
func (c *LRU) Add(key string, value []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		el.Value.(*lruEntry).value = value
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key: key, value: value})
	for c.order.Len() > c.capacity {
		c.evictOldest()
	}
}

func (c *LRU) evictOldest() {
	el := c.order.Back()
	if el == nil {
		return
	}
	c.order.Remove(el)
	delete(c.items, el.Value.(*lruEntry).key)
	c.evictions++
}

// AvatarService serves resized profile images.
type AvatarService struct {
	cache     *LRU
	imageSize int
}

// serveAvatar returns the thumbnail for a user, rendering it on a cache miss.
func (s *AvatarService) serveAvatar(userID string) []byte {
	if img, ok := s.cache.Get(userID); ok {
		return img
	}
	img := s.renderThumbnail(userID)
	s.cache.Add(userID, img)
	return img
}

func (s *AvatarService) renderThumbnail(userID string) []byte {
	img := make([]byte, s.imageSize)
	seed := byte(len(userID))
	for i := 0; i < len(img); i += 32 {
		img[i] = seed + byte(i)
	}
	return img
}

func run(ctx context.Context, env zoo.Env) error {
	s := &AvatarService{cache: NewLRU(2500), imageSize: env.Bytes(4 << 10)}
	rate := env.RateOr(1000)
	const batch = 10 // requests handled per tick, to keep the ticker cheap
	rng := rand.New(rand.NewPCG(1, 2))
	zoo.Every(ctx, rate/batch, func(int) {
		for j := 0; j < batch; j++ {
			var user int
			if rng.IntN(5) == 0 {
				user = rng.IntN(500) // popular users
			} else {
				user = 500 + rng.IntN(10_000_000) // the long tail
			}
			s.serveAvatar("u" + strconv.Itoa(user))
		}
	})
	return nil
}
