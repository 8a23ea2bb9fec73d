// Package thriftchurn is a report-archiving Thrift service whose handler
// serializes every report into a brand-new TMemoryBuffer through a brand-new
// TBinaryProtocol. Nothing is retained, but every request allocates buffers
// the size of the report (plus the doubling growth of the buffer): allocation
// churn, constant GC, flat live heap.
package thriftchurn

import (
	"context"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/leakhunter/zoo/internal/thriftkit"
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
	return thriftkit.ReadStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
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
	return thriftkit.ReadStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
		if id != 0 || t != thrift.STRUCT {
			return false, nil
		}
		r.Success = &Receipt{}
		return true, thriftkit.ReadStruct(ctx, in, func(id int16, t thrift.TType) (bool, error) {
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
	return thriftkit.WriteReply(ctx, out, "archive", seqID, &archiveResult{Success: receipt})
}
