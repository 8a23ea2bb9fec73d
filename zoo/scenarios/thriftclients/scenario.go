package thriftclients

import (
	"context"
	"fmt"

	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "thrift-unbounded-clients",
		Story: "Thrift client opens a new socket+buffered+framed transport per call and never closes it: connections, buffers and per-connection goroutines grow without bound",
		Run:   run,
	})
}

// run drives the storefront's product-page path: one GetItem per request.
func run(ctx context.Context, env zoo.Env) error {
	_, addr, err := StartInventoryServer(NewInventoryService(env.Bytes(1<<10)), env.Bytes(8<<10))
	if err != nil {
		return err
	}
	client := NewInventoryClient(addr, env.Bytes(16<<10))
	zoo.Every(ctx, env.RateOr(20), func(i int) {
		_, _ = client.GetItem(ctx, fmt.Sprintf("SKU-%06d", i%50000))
	})
	return nil
}
