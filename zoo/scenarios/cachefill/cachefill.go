// Package cachefill is a storefront that caches rendered product-page
// fragments in a bounded map: 2,000 entries for a catalogue of 2,500 SKUs,
// filled on misses, a random entry evicted once full. Requests pick SKUs
// uniformly, so the cache fills quickly at first and ever more slowly as more
// requests hit (after n requests about 2500*(1-e^(-n/2500)) SKUs have been
// seen): it reaches its bound about 8 s after start and then stays there,
// with evictions replacing the entries the misses add. A control: warm-up
// that decelerates into a plateau, not a leak.
package cachefill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "cache-filling-to-bound",
		Story: "product-fragment cache bounded at 2000 entries over 2500 SKUs, filled on misses: fills ever more slowly and levels off at its bound after ~8 s",
		Run:   run,
	})
}

// FragmentCache is a size-bounded map of rendered fragments.
type FragmentCache struct {
	mu      sync.Mutex
	entries map[string][]byte
	limit   int
	hits    int64
	misses  int64
	evicted int64
}

// Get returns the cached fragment of sku.
func (c *FragmentCache) Get(sku string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.entries[sku]
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	return b, ok
}

// Add stores a fragment, evicting an arbitrary entry when the cache is full.
func (c *FragmentCache) Add(sku string, fragment []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[sku]; !ok && len(c.entries) >= c.limit {
		for victim := range c.entries { // map order: a random victim
			delete(c.entries, victim)
			c.evicted++
			break
		}
	}
	c.entries[sku] = fragment
}

// Storefront renders product pages.
type Storefront struct {
	cache    *FragmentCache
	fragSize int
	served   int64
}

// productFragment returns the rendered fragment of sku, rendering it on a miss.
func (s *Storefront) productFragment(sku string) []byte {
	if b, ok := s.cache.Get(sku); ok {
		return b
	}
	b := s.render(sku)
	s.cache.Add(sku, b)
	return b
}

func (s *Storefront) render(sku string) []byte {
	b := make([]byte, 0, s.fragSize)
	for len(b) < s.fragSize {
		b = fmt.Appendf(b, "<li data-sku=%q>%s</li>", sku, sku)
	}
	return b[:s.fragSize]
}

func run(ctx context.Context, env zoo.Env) error {
	const skus, limit = 2500, 2000
	s := &Storefront{
		cache:    &FragmentCache{entries: make(map[string][]byte, limit), limit: limit},
		fragSize: env.Bytes(4 << 10),
	}
	rng := rand.New(rand.NewPCG(16, 4))
	zoo.Every(ctx, env.RateOr(500), func(int) {
		s.productFragment("SKU-" + strconv.Itoa(rng.IntN(skus)))
		s.served++
	})
	return nil
}
