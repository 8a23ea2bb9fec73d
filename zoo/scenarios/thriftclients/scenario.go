package thriftclients

import (
	"context"
	"fmt"
	"net"

	"github.com/leakhunter/zoo/internal/zoo"
)

const inventoryPeer = "thrift-unbounded-clients/inventory"

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "thrift-unbounded-clients",
		Story: "Thrift client opens a new socket+buffered+framed transport per call and never closes it: connections, buffers and per-connection goroutines grow without bound (the inventory upstream runs as a separate peer process)",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, 0) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "thrift-unbounded-clients-fixed",
		Story: "the fix of thrift-unbounded-clients: a bounded pool of 8 connections, reused round-robin",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, 8) },
	})
	zoo.RegisterPeer(inventoryPeer, servePeer)
}

// servePeer is the upstream inventory service, run in the peer process. It
// keeps every connection the storefront leaks (two goroutines each), so its
// per-connection buffers are small.
func servePeer(ctx context.Context, ln net.Listener) error {
	env := zoo.EnvFrom(ctx)
	return serveInventory(ctx, ln, NewInventoryService(env.Bytes(1<<10)), env.Bytes(2<<10))
}

// run drives the storefront's product-page path: one GetItem per request.
func run(ctx context.Context, env zoo.Env, maxConns int) error {
	// The inventory service outlives the load (it goes with the process).
	addr, err := zoo.StartPeer(context.WithoutCancel(ctx), inventoryPeer)
	if err != nil {
		return err
	}
	client := NewInventoryClient(addr, env.Bytes(16<<10))
	client.maxConns = maxConns
	zoo.Every(ctx, env.RateOr(20), func(i int) {
		_, _ = client.GetItem(ctx, fmt.Sprintf("SKU-%06d", i%50000))
	})
	return nil
}
