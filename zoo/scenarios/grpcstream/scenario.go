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

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "grpc-stream-not-closed",
		Story: "metrics poller opens a gRPC server stream per refresh, reads a few batches, never cancels: half-open streams pile up",
		Run:   run,
	})
}

func run(ctx context.Context, env zoo.Env) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	telemetrypb.RegisterTelemetryServer(srv, &upstream.TelemetryService{
		Backlog:    4,
		Interval:   250 * time.Millisecond,
		SampleSize: env.Bytes(3 << 10), // stays in grpc's 4 KiB buffer-pool tier
	})
	// The telemetry service keeps running after the load stops, like the
	// real one would; streams the poller abandoned stay open.
	go func() { _ = srv.Serve(ln) }()

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial telemetry: %w", err)
	}
	poller := NewPoller(telemetrypb.NewTelemetryClient(conn), 3)
	zoo.Every(ctx, env.RateOr(10), poller.refreshAll)
	return nil
}
