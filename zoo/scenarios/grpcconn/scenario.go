// Package grpcconn is a checkout service that dials a new gRPC ClientConn to
// the pricing service for every request and never closes it.
package grpcconn

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/leakhunter/zoo/internal/zoo"
	"github.com/leakhunter/zoo/scenarios/grpcconn/pricingpb"
)

const pricingPeer = "grpc-conn-per-request/pricing"

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "grpc-conn-per-request",
		Story: "checkout dials a new gRPC ClientConn per pricing call and never closes it: connections and their transport goroutines pile up (the pricing upstream runs as a separate peer process)",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "grpc-conn-per-request-fixed",
		Story: "the fix of grpc-conn-per-request: checkout dials one ClientConn at start and shares it across pricing calls",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
	zoo.RegisterPeer(pricingPeer, servePricing)
}

// servePricing is the upstream pricing service, run in the peer process. It
// keeps every connection the checkout leaks, so it uses small per-connection
// transport buffers (the default 32 KiB read + 32 KiB write per connection
// would cost it far more than the leak costs the checkout).
func servePricing(ctx context.Context, ln net.Listener) error {
	env := zoo.EnvFrom(ctx)
	srv := grpc.NewServer(
		grpc.ReadBufferSize(4<<10),
		grpc.WriteBufferSize(4<<10),
		grpc.SharedWriteBuffer(true),
	)
	pricingpb.RegisterPricingServer(srv, &pricingService{quoteSize: env.Bytes(1 << 10)})
	context.AfterFunc(ctx, srv.Stop)
	return srv.Serve(ln)
}

func run(ctx context.Context, env zoo.Env, fixed bool) error {
	// The pricing service outlives the load (it goes with the process); the
	// leaked connections stay up.
	addr, err := zoo.StartPeer(context.WithoutCancel(ctx), pricingPeer)
	if err != nil {
		return err
	}
	gw := &PricingGateway{target: addr, timeout: 2 * time.Second}
	if fixed {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		gw.shared = conn
	}
	zoo.Every(ctx, env.RateOr(15), func(i int) { gw.priceCart(ctx, i) })
	return nil
}
