// Package zoo holds the scenario registry shared by every leak-zoo service.
//
// Each scenario lives in its own package under scenarios/ and registers itself
// from init(); cmd/zoo picks one by name. Keeping scenarios in separate packages
// gives each one distinct, realistic function names in profiles (the culprit
// frames the detector must find).
package zoo

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Env is what a scenario gets from the runner.
type Env struct {
	// Rate is the requested load in operations per second (0: scenario default).
	Rate float64
	// Scale multiplies per-operation payload sizes (1: scenario default).
	Scale float64
}

// Scenario is one zoo service. Run drives load until ctx is done and must then
// return promptly; anything it deliberately leaks stays behind, as in production.
type Scenario struct {
	Name  string
	Story string
	Run   func(ctx context.Context, env Env) error
}

var (
	mu        sync.Mutex
	scenarios = map[string]Scenario{}
)

// Register adds a scenario; it panics on duplicate names (a programming error).
func Register(s Scenario) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := scenarios[s.Name]; dup {
		panic(fmt.Sprintf("zoo: duplicate scenario %q", s.Name))
	}
	scenarios[s.Name] = s
}

// Lookup returns the scenario called name.
func Lookup(name string) (Scenario, bool) {
	mu.Lock()
	defer mu.Unlock()
	s, ok := scenarios[name]
	return s, ok
}

// Names lists registered scenarios, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(scenarios))
	for n := range scenarios {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Every calls fn at the given rate until ctx is done. Each call runs on the
// ticker goroutine unless the scenario spawns its own; a slow fn lowers the rate
// rather than piling up calls.
func Every(ctx context.Context, rate float64, fn func(i int)) {
	if rate <= 0 {
		rate = 100
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(i)
		}
	}
}

// RateOr returns env.Rate, or def when the runner left it unset.
func (e Env) RateOr(def float64) float64 {
	if e.Rate > 0 {
		return e.Rate
	}
	return def
}

// Bytes scales a payload size by env.Scale.
func (e Env) Bytes(n int) int {
	if e.Scale > 0 {
		return int(float64(n) * e.Scale)
	}
	return n
}
