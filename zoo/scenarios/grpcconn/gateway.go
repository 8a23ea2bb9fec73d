package grpcconn

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/leakhunter/zoo/scenarios/grpcconn/pricingpb"
)

// PricingGateway is the checkout service's adapter to the pricing service.
type PricingGateway struct {
	target  string
	timeout time.Duration
	quoted  int
	// shared is the one connection every call uses (the fix); nil dials per call.
	shared *grpc.ClientConn
}

// quote prices one SKU. It dials a fresh ClientConn for every call and never
// closes it, so each call leaves a connection behind: client and server
// transport goroutines, HTTP/2 framers and their buffers, balancer state.
func (g *PricingGateway) quote(ctx context.Context, sku string) ([]byte, error) {
	conn := g.shared
	if conn == nil {
		var err error
		conn, err = grpc.NewClient(g.target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("dial pricing: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := pricingpb.NewPricingClient(conn).GetQuote(ctx, wrapperspb.String(sku))
	if err != nil {
		return nil, fmt.Errorf("quote %s: %w", sku, err)
	}
	return resp.GetValue(), nil
}

// priceCart is the request path: price the next cart line.
func (g *PricingGateway) priceCart(ctx context.Context, line int) {
	sku := fmt.Sprintf("SKU-%06d", line%100000)
	if q, err := g.quote(ctx, sku); err == nil {
		g.quoted += len(q)
	}
}
