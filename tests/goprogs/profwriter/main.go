// Command profwriter writes heap and goroutine profiles into a folder on a
// timer, the way a service without an HTTP endpoint does it
// (runtime/pprof.WriteHeapProfile and pprof.Lookup("goroutine").WriteTo), for
// leakhunter's profile-folder tests.
//
// -mode leak keeps ~1 MiB more per tick in a session registry that is never
// pruned and parks ten more goroutines per tick on a channel nobody sends on;
// -mode heapleak only keeps the memory;
// -mode steady does the same work with a bounded registry and a fixed pool.
// Both churn -churn MiB (2) of garbage per tick. By default each heap profile follows a
// runtime.GC(), as in runtime/pprof's own example; with -gc=false the
// profiles reflect the collections the runtime ran on its own: at least two
// between profiles, waited for by churning more. -debug 2
// writes the goroutine dumps as text (WriteTo(f, 2)) instead of protobufs.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"
)

type registry struct {
	sessions map[int][]byte
	limit    int // 0: unbounded
	next     int
}

// remember keeps a session's buffers; with a limit the oldest is dropped.
func (r *registry) remember(buf []byte) {
	r.sessions[r.next] = buf
	if r.limit > 0 {
		delete(r.sessions, r.next-r.limit)
	}
	r.next++
}

type server struct {
	reg     *registry
	replies chan []byte
	jobs    chan int
}

// handle serves one request; in leak mode it waits for a reply nobody sends.
func (s *server) handle(id int, leak bool) {
	for i := 0; i < 6; i++ {
		s.reg.remember(make([]byte, 16<<10))
	}
	if leak {
		go func() {
			<-s.replies
		}()
	} else {
		s.jobs <- id
	}
}

func (s *server) worker() {
	for range s.jobs {
	}
}

var sink []byte

// churn throws away mib MiB per tick, so the runtime collects on its own.
func churn(mib int) {
	for i := 0; i < mib*128; i++ {
		sink = make([]byte, 8<<10)
	}
}

// awaitCollections churns until the runtime has finished n collections of its
// own since the last call, as between two profiles of a service profiled every
// minute. A heap profile reflects the last completed cycle, so waiting on the
// cycle count (not on a sleep) keeps each profile fresh on a loaded machine.
func awaitCollections(n uint32) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for i := 0; i < 100000 && ms.NumGC < lastGC+n; i++ {
		churn(1)
		runtime.ReadMemStats(&ms)
	}
	lastGC = ms.NumGC
}

var lastGC uint32

func write(dir, name string, fn func(w io.Writer) error) {
	tmp := filepath.Join(dir, "."+name)
	f, err := os.Create(tmp)
	if err == nil {
		err = fn(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	out := flag.String("out", "", "folder to write profiles into")
	n := flag.Int("n", 16, "profiles of each kind to write")
	every := flag.Duration("every", 200*time.Millisecond, "interval between profiles")
	mode := flag.String("mode", "leak", "leak, heapleak or steady")
	debug := flag.Int("debug", 0, "goroutine profile format: 0 protobuf, 2 text dump")
	garbage := flag.Int("churn", 2, "MiB of garbage per tick")
	gc := flag.Bool("gc", true, "runtime.GC() before each heap profile, as runtime/pprof's example does")
	flag.Parse()
	leak := *mode == "leak"
	heapOnly := *mode == "heapleak"
	s := &server{reg: &registry{sessions: map[int][]byte{}}, replies: make(chan []byte), jobs: make(chan int)}
	if !leak && !heapOnly {
		s.reg.limit = 64
	}
	if !leak {
		for i := 0; i < 8; i++ {
			go s.worker()
		}
	}
	for tick := 0; tick < *n; tick++ {
		for req := 0; req < 10; req++ {
			s.handle(tick*10+req, leak)
		}
		churn(*garbage)
		if *gc {
			runtime.GC() // get up-to-date statistics
		} else {
			awaitCollections(2)
		}
		write(*out, fmt.Sprintf("heap-%04d.pb.gz", tick), pprof.WriteHeapProfile)
		name, ext := "goroutine", "pb.gz"
		if *debug != 0 {
			ext = "txt"
		}
		write(*out, fmt.Sprintf("%s-%04d.%s", name, tick, ext), func(w io.Writer) error {
			return pprof.Lookup("goroutine").WriteTo(w, *debug)
		})
		time.Sleep(*every)
	}
}
