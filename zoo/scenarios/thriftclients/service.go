// Package thriftclients is the inventory service and its Thrift client: the
// client opens a fresh socket + buffered + framed transport for every call and
// never closes it, so client connections, their buffers and their heartbeat
// goroutines pile up (and so do the server's per-connection goroutines, in
// the service's own process: the zoo runs it as a peer process).
package thriftclients

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"github.com/apache/thrift/lib/go/thrift"
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
	if err := writeStringField(ctx, out, "sku", 1, p.SKU); err != nil {
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
	if err := writeStringField(ctx, out, "description", 3, p.Description); err != nil {
		return err
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

func (p *Item) Read(ctx context.Context, in thrift.TProtocol) error {
	return readStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
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
	if err := writeStringField(ctx, out, "sku", 1, p.SKU); err != nil {
		return err
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

func (p *getItemArgs) Read(ctx context.Context, in thrift.TProtocol) error {
	return readStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
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
	return readStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
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
	return readStruct(ctx, in, func(int16, thrift.TType) (bool, error) { return false, nil })
}

func writeStringField(ctx context.Context, out thrift.TProtocol, name string, id int16, v string) error {
	if err := out.WriteFieldBegin(ctx, name, thrift.STRING, id); err != nil {
		return err
	}
	if err := out.WriteString(ctx, v); err != nil {
		return err
	}
	return out.WriteFieldEnd(ctx)
}

// readStruct walks a struct's fields; field reads the ones it knows and the
// rest are skipped.
func readStruct(ctx context.Context, in thrift.TProtocol, field func(id int16, t thrift.TType) (bool, error)) error {
	if _, err := in.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, t, id, err := in.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			break
		}
		known, err := field(id, t)
		if err != nil {
			return err
		}
		if !known {
			if err := thrift.SkipDefaultDepth(ctx, in, t); err != nil {
				return err
			}
		}
		if err := in.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
	return in.ReadStructEnd(ctx)
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

// inventoryProcessor dispatches InventoryService calls (what the Thrift
// compiler would generate).
type inventoryProcessor struct {
	handler *InventoryService
	fns     map[string]thrift.TProcessorFunction
}

func newInventoryProcessor(h *InventoryService) *inventoryProcessor {
	p := &inventoryProcessor{handler: h, fns: map[string]thrift.TProcessorFunction{}}
	p.fns["getItem"] = &getItemProcessor{h}
	p.fns["ping"] = pingProcessor{}
	return p
}

func (p *inventoryProcessor) ProcessorMap() map[string]thrift.TProcessorFunction { return p.fns }

func (p *inventoryProcessor) AddToProcessorMap(name string, fn thrift.TProcessorFunction) {
	p.fns[name] = fn
}

func (p *inventoryProcessor) Process(ctx context.Context, in, out thrift.TProtocol) (bool, thrift.TException) {
	name, _, seqID, err := in.ReadMessageBegin(ctx)
	if err != nil {
		return false, thrift.WrapTException(err)
	}
	if fn, ok := p.fns[name]; ok {
		return fn.Process(ctx, seqID, in, out)
	}
	_ = thrift.SkipDefaultDepth(ctx, in, thrift.STRUCT)
	_ = in.ReadMessageEnd(ctx)
	x := thrift.NewTApplicationException(thrift.UNKNOWN_METHOD, fmt.Sprintf("unknown function %s", name))
	_ = out.WriteMessageBegin(ctx, name, thrift.EXCEPTION, seqID)
	_ = x.Write(ctx, out)
	_ = out.WriteMessageEnd(ctx)
	_ = out.Flush(ctx)
	return false, x
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
	return writeReply(ctx, out, "getItem", seqID, &getItemResult{Success: item})
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
	return writeReply(ctx, out, "ping", seqID, &emptyStruct{name: "ping_result"})
}

func writeReply(ctx context.Context, out thrift.TProtocol, method string, seqID int32, res thrift.TStruct) (bool, thrift.TException) {
	if err := out.WriteMessageBegin(ctx, method, thrift.REPLY, seqID); err != nil {
		return false, thrift.WrapTException(err)
	}
	if err := res.Write(ctx, out); err != nil {
		return false, thrift.WrapTException(err)
	}
	if err := out.WriteMessageEnd(ctx); err != nil {
		return false, thrift.WrapTException(err)
	}
	if err := out.Flush(ctx); err != nil {
		return false, thrift.WrapTException(err)
	}
	return true, nil
}

// serveInventory serves InventoryService (framed, binary protocol) on ln until
// ctx is done.
func serveInventory(ctx context.Context, ln net.Listener, h *InventoryService, bufBytes int) error {
	sock := thrift.NewTServerSocketFromFactoryTimeout(func(net.Addr) (net.Listener, error) { return ln, nil }, ln.Addr(), 0)
	conf := &thrift.TConfiguration{}
	transports := thrift.NewTFramedTransportFactoryConf(thrift.NewTBufferedTransportFactory(bufBytes), conf)
	srv := thrift.NewTSimpleServer4(newInventoryProcessor(h), sock, transports, thrift.NewTBinaryProtocolFactoryConf(conf))
	if err := srv.Listen(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = sock.Interrupt() })
	defer stop()
	return srv.AcceptLoop()
}
