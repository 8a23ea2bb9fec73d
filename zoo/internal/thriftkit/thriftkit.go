// Package thriftkit holds what the Thrift compiler would generate for every
// service of the zoo's Thrift scenarios: a processor that dispatches by method
// name, the reply envelope, and struct field walking. The scenarios write their
// own structs and handlers (where their bugs live) on top of it.
package thriftkit

import (
	"context"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
)

// Processor dispatches a call to the TProcessorFunction registered for its
// method name, answering unknown methods with an UNKNOWN_METHOD exception.
type Processor struct {
	fns map[string]thrift.TProcessorFunction
}

// NewProcessor returns a processor for the given method table.
func NewProcessor(fns map[string]thrift.TProcessorFunction) *Processor {
	return &Processor{fns: fns}
}

// ProcessorMap returns the method table.
func (p *Processor) ProcessorMap() map[string]thrift.TProcessorFunction { return p.fns }

// AddToProcessorMap registers one more method.
func (p *Processor) AddToProcessorMap(name string, fn thrift.TProcessorFunction) {
	p.fns[name] = fn
}

// Process reads one call's envelope and runs its method.
func (p *Processor) Process(ctx context.Context, in, out thrift.TProtocol) (bool, thrift.TException) {
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

// WriteReply writes a method's result struct in a REPLY envelope and flushes.
func WriteReply(ctx context.Context, out thrift.TProtocol, method string, seqID int32, res thrift.TStruct) (bool, thrift.TException) {
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

// ReadStruct walks a struct's fields: field reads the ones it knows (returning
// true) and the rest are skipped.
func ReadStruct(ctx context.Context, in thrift.TProtocol, field func(id int16, t thrift.TType) (bool, error)) error {
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

// WriteStringField writes one string field.
func WriteStringField(ctx context.Context, out thrift.TProtocol, name string, id int16, v string) error {
	if err := out.WriteFieldBegin(ctx, name, thrift.STRING, id); err != nil {
		return err
	}
	if err := out.WriteString(ctx, v); err != nil {
		return err
	}
	return out.WriteFieldEnd(ctx)
}
