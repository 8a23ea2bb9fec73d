package grpcstream

import (
	"context"
	"fmt"
	"sync/atomic"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/leakhunter/zoo/scenarios/grpcstream/telemetrypb"
)

// Poller is the background job that refreshes per-source metric snapshots: it
// subscribes to a source's telemetry stream, takes the first few sample batches
// and folds them into its aggregate.
type Poller struct {
	client   telemetrypb.TelemetryClient
	ctx      context.Context // lives as long as the poller (the whole process)
	snapshot int             // sample batches per refresh
	// cancelStreams gives each poll its own context, cancelled on return (the fix).
	cancelStreams bool

	samples atomic.Int64
	bytes   atomic.Int64
}

// NewPoller builds a poller whose streams share the process-lifetime context.
func NewPoller(client telemetrypb.TelemetryClient, snapshot int) *Poller {
	return &Poller{client: client, ctx: context.Background(), snapshot: snapshot}
}

// poll refreshes one source. It reads a snapshot's worth of batches and
// returns; the stream is left open (no cancel, not drained to io.EOF), so its
// transport stream, watcher goroutine and unread batches stay alive for good
// (and so does the upstream's handler for it).
func (p *Poller) poll(source string) error {
	ctx := p.ctx
	if p.cancelStreams {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(p.ctx)
		defer cancel() // ends the stream: transport stream, watcher and buffers go
	}
	stream, err := p.client.DataStream(ctx, wrapperspb.String(source))
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", source, err)
	}
	for i := 0; i < p.snapshot; i++ {
		batch, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("recv %s: %w", source, err)
		}
		p.aggregate(batch)
	}
	return nil
}

func (p *Poller) aggregate(batch *wrapperspb.BytesValue) {
	p.samples.Add(1)
	p.bytes.Add(int64(len(batch.GetValue())))
}

// refreshAll is the job's tick: poll the next source in the rotation.
func (p *Poller) refreshAll(tick int) {
	source := fmt.Sprintf("host-%04d/cpu", tick%5000)
	_ = p.poll(source)
}
