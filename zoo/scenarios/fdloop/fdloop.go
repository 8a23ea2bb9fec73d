// Package fdloop is a spool importer: one long-running worker re-reads a batch of
// spool files whenever it is signalled, and closes each file with a defer inside
// its loop. A defer runs when the function returns, and the worker never returns:
// every file it ever opened stays open, with the reader (and its 32 KB buffer)
// the deferred Close keeps alive. Descriptors climb to "too many open files".
package fdloop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "files-defer-close-in-loop",
		Story: "a long-running importer opens each spool file with `defer r.Close()` inside its loop; the function never returns, so no file is ever closed",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "files-defer-close-in-loop-fixed",
		Story: "the fix: each file is imported by its own function, whose defer closes it at the end of the iteration",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
}

// recordReader reads length-prefixed records from one spool file.
type recordReader struct {
	f   *os.File
	buf []byte
}

// Close closes the underlying file.
func (r *recordReader) Close() error { return r.f.Close() }

// count reads the file once and returns how many bytes it held.
func (r *recordReader) count() int {
	n, _ := r.f.ReadAt(r.buf, 0)
	return n
}

// Importer imports spool files.
type Importer struct {
	dir      string
	bufSize  int
	imported atomic.Int64
}

// RunFixed imports every batch it is signalled for, closing each file when its
// import is done: the defer lives in importOne, which returns per file.
func (imp *Importer) RunFixed(ctx context.Context, batches <-chan []string) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case batch := <-batches:
			for _, name := range batch {
				imp.importOne(name)
			}
		}
	}
}

// importOne imports one spool file and closes it.
func (imp *Importer) importOne(name string) {
	f, err := os.Open(filepath.Join(imp.dir, name))
	if err != nil {
		return
	}
	r := &recordReader{f: f, buf: make([]byte, imp.bufSize)}
	defer r.Close()
	imp.imported.Add(int64(r.count()))
}

// Run imports every batch it is signalled for, until the service stops.
func (imp *Importer) Run(ctx context.Context, batches <-chan []string) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case batch := <-batches:
			for _, name := range batch {
				f, err := os.Open(filepath.Join(imp.dir, name))
				if err != nil {
					continue
				}
				r := &recordReader{f: f, buf: make([]byte, imp.bufSize)}
				// BUG: deferred inside the loop of a function that never returns.
				defer r.Close()
				imp.imported.Add(int64(r.count()))
			}
		}
	}
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	dir, err := os.MkdirTemp("", "zoo-spool-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	names := make([]string, 4)
	for i := range names {
		names[i] = fmt.Sprintf("batch-%02d.rec", i)
		if err := os.WriteFile(filepath.Join(dir, names[i]), make([]byte, 4096), 0o600); err != nil {
			return err
		}
	}
	imp := &Importer{dir: dir, bufSize: env.Bytes(32 << 10)}
	batches := make(chan []string)
	if fixed {
		go imp.RunFixed(ctx, batches) //nolint:errcheck // ends with ctx
	} else {
		go imp.Run(ctx, batches) //nolint:errcheck // ends with ctx
	}
	zoo.Every(ctx, env.RateOr(5), func(int) {
		select {
		case batches <- names:
		case <-ctx.Done():
		}
	})
	return nil
}
