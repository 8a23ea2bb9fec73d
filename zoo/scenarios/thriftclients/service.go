// Package thriftclients is the inventory service and its Thrift client: the
// client opens a fresh socket + buffered + framed transport for every call and
// never closes it, so client connections, their buffers and their heartbeat
// goroutines pile up (and so do the server's per-connection goroutines, in
// the service's own process: the zoo runs it as a peer process).
package thriftclients

import (
	"context"
	"net"
	"strings"
	"sync/atomic"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/leakhunter/zoo/internal/thriftkit"
)

// Item is the inventory record returned by getItem.
type Item struct {
	SKU         string
	Stock       int64
	Description string
}

func (p *Item) Write(ctx context.Context, out thrift.TProtocol) error {
	if err := out.WriteStructBegin(ctx, "Item"); err != nil {
		return err
	}
	if err := thriftkit.WriteStringField(ctx, out, "sku", 1, p.SKU); err != nil {
		return err
	}
	if err := out.WriteFieldBegin(ctx, "stock", thrift.I64, 2); err != nil {
		return err
	}
	if err := out.WriteI64(ctx, p.Stock); err != nil {
		return err
	}
	if err := out.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := thriftkit.WriteStringField(ctx, out, "description", 3, p.Description); err != nil {
		return err
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

func (p *Item) Read(ctx context.Context, in thrift.TProtocol) error {
	return thriftkit.ReadStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRING:
			p.SKU, err = in.ReadString(ctx)
		case id == 2 && t == thrift.I64:
			p.Stock, err = in.ReadI64(ctx)
		case id == 3 && t == thrift.STRING:
			p.Description, err = in.ReadString(ctx)
		default:
			return false, nil
		}
		return true, err
	})
}

// getItemArgs is the argument struct of InventoryService.getItem(1: string sku).
type getItemArgs struct {
	SKU string
}

func (p *getItemArgs) Write(ctx context.Context, out thrift.TProtocol) error {
	if err := out.WriteStructBegin(ctx, "getItem_args"); err != nil {
		return err
	}
	if err := thriftkit.WriteStringField(ctx, out, "sku", 1, p.SKU); err != nil {
		return err
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

func (p *getItemArgs) Read(ctx context.Context, in thrift.TProtocol) error {
	return thriftkit.ReadStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
		if id == 1 && t == thrift.STRING {
			var err error
			p.SKU, err = in.ReadString(ctx)
			return true, err
		}
		return false, nil
	})
}

// getItemResult is the result struct of getItem (0: Item success).
type getItemResult struct {
	Success *Item
}

func (p *getItemResult) Write(ctx context.Context, out thrift.TProtocol) error {
	if err := out.WriteStructBegin(ctx, "getItem_result"); err != nil {
		return err
	}
	if p.Success != nil {
		if err := out.WriteFieldBegin(ctx, "success", thrift.STRUCT, 0); err != nil {
			return err
		}
		if err := p.Success.Write(ctx, out); err != nil {
			return err
		}
		if err := out.WriteFieldEnd(ctx); err != nil {
			return err
		}
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

func (p *getItemResult) Read(ctx context.Context, in thrift.TProtocol) error {
	return thriftkit.ReadStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
		if id == 0 && t == thrift.STRUCT {
			p.Success = &Item{}
			return true, p.Success.Read(ctx, in)
		}
		return false, nil
	})
}

// emptyStruct is the args/result of ping().
type emptyStruct struct{ name string }

func (p *emptyStruct) Write(ctx context.Context, out thrift.TProtocol) error {
	if err := out.WriteStructBegin(ctx, p.name); err != nil {
		return err
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

func (p *emptyStruct) Read(ctx context.Context, in thrift.TProtocol) error {
	return thriftkit.ReadStruct(ctx, in, func(int16, thrift.TType) (bool, error) { return false, nil })
}

// InventoryService is the server-side handler.
type InventoryService struct {
	descr string
	calls atomic.Int64
}

// NewInventoryService builds the handler; descrBytes sizes item descriptions.
func NewInventoryService(descrBytes int) *InventoryService {
	return &InventoryService{descr: strings.Repeat("d", descrBytes)}
}

// GetItem looks an item up.
func (s *InventoryService) GetItem(_ context.Context, sku string) (*Item, error) {
	n := s.calls.Add(1)
	return &Item{SKU: sku, Stock: n % 1000, Description: s.descr}, nil
}

type getItemProcessor struct{ handler *InventoryService }

func (p *getItemProcessor) Process(ctx context.Context, seqID int32, in, out thrift.TProtocol) (bool, thrift.TException) {
	var args getItemArgs
	if err := args.Read(ctx, in); err != nil {
		return false, thrift.WrapTException(err)
	}
	if err := in.ReadMessageEnd(ctx); err != nil {
		return false, thrift.WrapTException(err)
	}
	item, err := p.handler.GetItem(ctx, args.SKU)
	if err != nil {
		return false, thrift.WrapTException(err)
	}
	return thriftkit.WriteReply(ctx, out, "getItem", seqID, &getItemResult{Success: item})
}

type pingProcessor struct{}

func (pingProcessor) Process(ctx context.Context, seqID int32, in, out thrift.TProtocol) (bool, thrift.TException) {
	args := emptyStruct{name: "ping_args"}
	if err := args.Read(ctx, in); err != nil {
		return false, thrift.WrapTException(err)
	}
	if err := in.ReadMessageEnd(ctx); err != nil {
		return false, thrift.WrapTException(err)
	}
	return thriftkit.WriteReply(ctx, out, "ping", seqID, &emptyStruct{name: "ping_result"})
}

// serveInventory serves InventoryService (framed, binary protocol) on ln until
// ctx is done.
func serveInventory(ctx context.Context, ln net.Listener, h *InventoryService, bufBytes int) error {
	sock := thrift.NewTServerSocketFromFactoryTimeout(func(net.Addr) (net.Listener, error) { return ln, nil }, ln.Addr(), 0)
	conf := &thrift.TConfiguration{}
	transports := thrift.NewTFramedTransportFactoryConf(thrift.NewTBufferedTransportFactory(bufBytes), conf)
	srv := thrift.NewTSimpleServer4(thriftkit.NewProcessor(map[string]thrift.TProcessorFunction{
		"getItem": &getItemProcessor{h},
		"ping":    pingProcessor{},
	}), sock, transports, thrift.NewTBinaryProtocolFactoryConf(conf))
	if err := srv.Listen(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = sock.Interrupt() })
	defer stop()
	return srv.AcceptLoop()
}
