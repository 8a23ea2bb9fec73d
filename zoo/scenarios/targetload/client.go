package targetload

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/leakhunter/zoo/internal/zoo"
)

// clientPeer is the load generator of bench/bench_target_load.py, run as
// "zoo -peer bench-load-client": a process of its own, so the target's GC
// pauses show in the latencies it measures instead of stopping it too.
const clientPeer = "bench-load-client"

func init() {
	zoo.RegisterPeer(clientPeer, serveClient)
}

// serveClient answers GET /run?target=URL&rate=R&seconds=S[&kb=K]: it sends
// R requests a second to URL/api/profile for S seconds and answers with their
// latency figures once the last one is back.
func serveClient(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /run", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		rate, err1 := strconv.ParseFloat(q.Get("rate"), 64)
		seconds, err2 := strconv.ParseFloat(q.Get("seconds"), 64)
		target, err3 := url.Parse(q.Get("target"))
		if err1 != nil || err2 != nil || err3 != nil || rate <= 0 || seconds <= 0 {
			http.Error(w, "want target=URL&rate=R&seconds=S", http.StatusBadRequest)
			return
		}
		kb := q.Get("kb")
		if kb == "" {
			kb = "16"
		}
		res := drive(r.Context(), target.String(), rate, seconds, kb)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// result is one load phase as the bench reads it. Latencies run from the time
// a request was due (open loop: a stalled target does not slow the sender, so
// the requests queued behind a pause count their wait) to its last byte.
type result struct {
	Sent      int       `json:"sent"`
	Errors    int       `json:"errors"`
	P50       float64   `json:"p50_ms"`
	P90       float64   `json:"p90_ms"`
	P99       float64   `json:"p99_ms"`
	P999      float64   `json:"p999_ms"`
	Max       float64   `json:"max_ms"`
	Mean      float64   `json:"mean_ms"`
	PerSecond []float64 `json:"per_second_p99_ms"` // p99 of the requests due in each second
	FirstErr  string    `json:"first_error,omitempty"`
}

type sample struct {
	due     time.Duration // since the phase started
	latency time.Duration
}

func drive(ctx context.Context, base string, rate, seconds float64, kb string) result {
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true},
	}
	defer client.CloseIdleConnections()
	var (
		mu       sync.Mutex
		samples  []sample
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	rng := rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano())))
	total := int(rate * seconds)
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		due := time.Duration(float64(i) / rate * float64(time.Second))
		if wait := time.Until(start.Add(due)); wait > 0 {
			time.Sleep(wait)
		}
		u := base + "/api/profile?kb=" + kb + "&id=" + strconv.Itoa(rng.IntN(1<<31))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := get(ctx, client, u)
			lat := time.Since(start.Add(due))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if firstErr == "" {
					firstErr = err.Error()
				}
				return
			}
			samples = append(samples, sample{due, lat})
		}()
	}
	wg.Wait()
	return summarize(samples, errs, firstErr, int(math.Ceil(seconds)))
}

func get(ctx context.Context, client *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{resp.Status}
	}
	return nil
}

type statusError struct{ status string }

func (e *statusError) Error() string { return "HTTP " + e.status }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile returns the q-quantile of sorted latencies (nearest rank).
func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return ms(sorted[min(max(k, 0), len(sorted)-1)])
}

func summarize(samples []sample, errs int, firstErr string, seconds int) result {
	all := make([]time.Duration, len(samples))
	buckets := make([][]time.Duration, seconds)
	var sum time.Duration
	for i, s := range samples {
		all[i] = s.latency
		sum += s.latency
		if b := int(s.due / time.Second); b < seconds {
			buckets[b] = append(buckets[b], s.latency)
		}
	}
	slices.Sort(all)
	res := result{
		Sent: len(samples) + errs, Errors: errs, FirstErr: firstErr,
		P50: quantile(all, 0.5), P90: quantile(all, 0.9), P99: quantile(all, 0.99),
		P999: quantile(all, 0.999), PerSecond: make([]float64, seconds),
	}
	if len(all) > 0 {
		res.Max = ms(all[len(all)-1])
		res.Mean = ms(sum) / float64(len(all))
	}
	for i, b := range buckets {
		slices.Sort(b)
		res.PerSecond[i] = quantile(b, 0.99)
	}
	return res
}
