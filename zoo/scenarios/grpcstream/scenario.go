// Package grpcstream is a metrics aggregator whose background poller opens a
// gRPC server stream per refresh and never closes it.
package grpcstream

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/leakhunter/zoo/internal/zoo"
	"github.com/leakhunter/zoo/scenarios/grpcstream/telemetrypb"
	"github.com/leakhunter/zoo/scenarios/grpcstream/upstream"
)

const telemetryPeer = "grpc-stream-not-closed/telemetry"

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "grpc-stream-not-closed",
		Story: "metrics poller opens a gRPC server stream per refresh, reads a few batches, never cancels: half-open streams pile up (the telemetry upstream runs as a separate peer process)",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "grpc-stream-not-closed-fixed",
		Story: "the fix of grpc-stream-not-closed: each poll runs under its own cancelable context and cancels it when done, so the stream, its watcher and its unread batches go",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
	zoo.RegisterPeer(telemetryPeer, serveTelemetry)
}

// serveTelemetry is the upstream telemetry service, run in the peer process.
func serveTelemetry(ctx context.Context, ln net.Listener) error {
	env := zoo.EnvFrom(ctx)
	srv := grpc.NewServer()
	telemetrypb.RegisterTelemetryServer(srv, &upstream.TelemetryService{
		Backlog:    4,
		Interval:   250 * time.Millisecond,
		SampleSize: env.Bytes(3 << 10), // stays in grpc's 4 KiB buffer-pool tier
		// 4 backlog + 12 live samples of ~3 KiB stay below the client's
		// 64 KiB stream window: each abandoned stream ends up holding ~13
		// unread batches in the poller, while the service only keeps an idle
		// handler per stream.
		LiveLimit: 12,
	})
	context.AfterFunc(ctx, srv.Stop)
	return srv.Serve(ln)
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	// The telemetry service keeps running after the load stops, like the
	// real one would (it goes with the process); streams the poller
	// abandoned stay open.
	addr, err := zoo.StartPeer(context.WithoutCancel(ctx), telemetryPeer)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial telemetry: %w", err)
	}
	poller := NewPoller(telemetrypb.NewTelemetryClient(conn), 3)
	poller.cancelStreams = fixed
	zoo.Every(ctx, env.RateOr(10), poller.refreshAll)
	return nil
}
