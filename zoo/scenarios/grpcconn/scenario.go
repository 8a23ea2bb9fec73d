// Package grpcconn is a checkout service that dials a new gRPC ClientConn to
// the pricing service for every request and never closes it.
package grpcconn

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/leakhunter/zoo/internal/zoo"
	"github.com/leakhunter/zoo/scenarios/grpcconn/pricingpb"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "grpc-conn-per-request",
		Story: "checkout dials a new gRPC ClientConn per pricing call and never closes it: connections and their transport goroutines pile up",
		Run:   run,
	})
}

func run(ctx context.Context, env zoo.Env) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	pricingpb.RegisterPricingServer(srv, &pricingService{quoteSize: env.Bytes(1 << 10)})
	// The pricing service outlives the load; the leaked connections stay up.
	go func() { _ = srv.Serve(ln) }()

	gw := &PricingGateway{target: ln.Addr().String(), timeout: 2 * time.Second}
	zoo.Every(ctx, env.RateOr(15), func(i int) { gw.priceCart(ctx, i) })
	return nil
}
