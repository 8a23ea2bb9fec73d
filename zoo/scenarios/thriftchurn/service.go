// Package thriftchurn is a report-archiving Thrift service whose handler
// serializes every report into a brand-new TMemoryBuffer through a brand-new
// TBinaryProtocol. Nothing is retained, but every request allocates buffers
// the size of the report (plus the doubling growth of the buffer): allocation
// churn, constant GC, flat live heap.
package thriftchurn

import (
	"context"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
)

// ReportRow is one line of a sales report.
type ReportRow struct {
	Region string
	Amount int64
	Detail []byte
}

// Report is what clients ask to archive.
type Report struct {
	ID   string
	Rows []ReportRow
}

func (r *Report) Write(ctx context.Context, out thrift.TProtocol) error {
	if err := out.WriteStructBegin(ctx, "Report"); err != nil {
		return err
	}
	if err := out.WriteFieldBegin(ctx, "id", thrift.STRING, 1); err != nil {
		return err
	}
	if err := out.WriteString(ctx, r.ID); err != nil {
		return err
	}
	if err := out.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := out.WriteFieldBegin(ctx, "rows", thrift.LIST, 2); err != nil {
		return err
	}
	if err := out.WriteListBegin(ctx, thrift.STRUCT, len(r.Rows)); err != nil {
		return err
	}
	for i := range r.Rows {
		if err := r.Rows[i].Write(ctx, out); err != nil {
			return err
		}
	}
	if err := out.WriteListEnd(ctx); err != nil {
		return err
	}
	if err := out.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

func (row *ReportRow) Write(ctx context.Context, out thrift.TProtocol) error {
	if err := out.WriteStructBegin(ctx, "ReportRow"); err != nil {
		return err
	}
	if err := out.WriteFieldBegin(ctx, "region", thrift.STRING, 1); err != nil {
		return err
	}
	if err := out.WriteString(ctx, row.Region); err != nil {
		return err
	}
	if err := out.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := out.WriteFieldBegin(ctx, "amount", thrift.I64, 2); err != nil {
		return err
	}
	if err := out.WriteI64(ctx, row.Amount); err != nil {
		return err
	}
	if err := out.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := out.WriteFieldBegin(ctx, "detail", thrift.STRING, 3); err != nil {
		return err
	}
	if err := out.WriteBinary(ctx, row.Detail); err != nil {
		return err
	}
	if err := out.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

// archiveArgs: archive(1: string reportId, 2: i32 rows).
type archiveArgs struct {
	ReportID string
	Rows     int32
}

func (a *archiveArgs) Write(ctx context.Context, out thrift.TProtocol) error {
	if err := out.WriteStructBegin(ctx, "archive_args"); err != nil {
		return err
	}
	if err := out.WriteFieldBegin(ctx, "reportId", thrift.STRING, 1); err != nil {
		return err
	}
	if err := out.WriteString(ctx, a.ReportID); err != nil {
		return err
	}
	if err := out.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := out.WriteFieldBegin(ctx, "rows", thrift.I32, 2); err != nil {
		return err
	}
	if err := out.WriteI32(ctx, a.Rows); err != nil {
		return err
	}
	if err := out.WriteFieldEnd(ctx); err != nil {
		return err
	}
	if err := out.WriteFieldStop(ctx); err != nil {
		return err
	}
	return out.WriteStructEnd(ctx)
}

func (a *archiveArgs) Read(ctx context.Context, in thrift.TProtocol) error {
	return readStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
		var err error
		switch {
		case id == 1 && t == thrift.STRING:
			a.ReportID, err = in.ReadString(ctx)
		case id == 2 && t == thrift.I32:
			a.Rows, err = in.ReadI32(ctx)
		default:
			return false, nil
		}
		return true, err
	})
}

// Receipt is archive()'s result: where the blob went and its checksum.
type Receipt struct {
	Bytes    int64
	Checksum int64
}

// archiveResult: 0: Receipt success.
type archiveResult struct {
	Success *Receipt
}

func (r *archiveResult) Write(ctx context.Context, out thrift.TProtocol) error {
	if err := out.WriteStructBegin(ctx, "archive_result"); err != nil {
		return err
	}
	if r.Success != nil {
		if err := out.WriteFieldBegin(ctx, "success", thrift.STRUCT, 0); err != nil {
			return err
		}
		if err := out.WriteStructBegin(ctx, "Receipt"); err != nil {
			return err
		}
		for i, v := range []int64{r.Success.Bytes, r.Success.Checksum} {
			if err := out.WriteFieldBegin(ctx, "", thrift.I64, int16(i+1)); err != nil {
				return err
			}
			if err := out.WriteI64(ctx, v); err != nil {
				return err
			}
			if err := out.WriteFieldEnd(ctx); err != nil {
				return err
			}
		}
		if err := out.WriteFieldStop(ctx); err != nil {
			return err
		}
		if err := out.WriteStructEnd(ctx); err != nil {
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

func (r *archiveResult) Read(ctx context.Context, in thrift.TProtocol) error {
	return readStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
		if id != 0 || t != thrift.STRUCT {
			return false, nil
		}
		r.Success = &Receipt{}
		return true, readStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
			var err error
			switch {
			case id == 1 && t == thrift.I64:
				r.Success.Bytes, err = in.ReadI64(ctx)
			case id == 2 && t == thrift.I64:
				r.Success.Checksum, err = in.ReadI64(ctx)
			default:
				return false, nil
			}
			return true, err
		})
	})
}

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

// archiveProcessor is the hand-written equivalent of the generated
// ReportArchiveProcessor.
type archiveProcessor struct {
	fns map[string]thrift.TProcessorFunction
}

func newArchiveProcessor(h *ReportArchiver) *archiveProcessor {
	return &archiveProcessor{fns: map[string]thrift.TProcessorFunction{"archive": &archiveFunc{h}}}
}

func (p *archiveProcessor) ProcessorMap() map[string]thrift.TProcessorFunction { return p.fns }

func (p *archiveProcessor) AddToProcessorMap(name string, fn thrift.TProcessorFunction) {
	p.fns[name] = fn
}

func (p *archiveProcessor) Process(ctx context.Context, in, out thrift.TProtocol) (bool, thrift.TException) {
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

type archiveFunc struct{ h *ReportArchiver }

func (f *archiveFunc) Process(ctx context.Context, seqID int32, in, out thrift.TProtocol) (bool, thrift.TException) {
	var args archiveArgs
	if err := args.Read(ctx, in); err != nil {
		return false, thrift.WrapTException(err)
	}
	if err := in.ReadMessageEnd(ctx); err != nil {
		return false, thrift.WrapTException(err)
	}
	receipt, err := f.h.Archive(ctx, args.ReportID, int(args.Rows))
	if err != nil {
		return false, thrift.WrapTException(err)
	}
	if err := out.WriteMessageBegin(ctx, "archive", thrift.REPLY, seqID); err != nil {
		return false, thrift.WrapTException(err)
	}
	if err := (&archiveResult{Success: receipt}).Write(ctx, out); err != nil {
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
