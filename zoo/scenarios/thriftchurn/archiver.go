package thriftchurn

import (
	"context"
	"hash/crc64"
	"io"
	"sync/atomic"

	"github.com/apache/thrift/lib/go/thrift"
)

var crcTable = crc64.MakeTable(crc64.ECMA)

// BlobStore is where archived reports go (a cold-storage writer in
// production; here it only counts bytes).
type BlobStore struct {
	w       io.Writer
	written atomic.Int64
}

// Put stores one blob.
func (s *BlobStore) Put(_ string, blob []byte) error {
	n, err := s.w.Write(blob)
	s.written.Add(int64(n))
	return err
}

// ReportArchiver is the ReportArchive service handler.
type ReportArchiver struct {
	store   *BlobStore
	regions []string
	detail  []byte // row detail template, shared (read-only)
}

// NewReportArchiver builds the handler; detailBytes sizes each report row.
func NewReportArchiver(detailBytes int) *ReportArchiver {
	detail := make([]byte, detailBytes)
	for i := range detail {
		detail[i] = byte('a' + i%26)
	}
	return &ReportArchiver{
		store:   &BlobStore{w: io.Discard},
		regions: []string{"emea", "amer", "apac", "latam"},
		detail:  detail,
	}
}

// Archive loads a report, serializes it and stores the blob.
func (a *ReportArchiver) Archive(ctx context.Context, reportID string, rows int) (*Receipt, error) {
	report := a.loadReport(reportID, rows)
	blob, err := serializeReport(ctx, report)
	if err != nil {
		return nil, err
	}
	if err := a.store.Put(reportID, blob); err != nil {
		return nil, err
	}
	return &Receipt{Bytes: int64(len(blob)), Checksum: int64(crc64.Checksum(blob, crcTable))}, nil
}

func (a *ReportArchiver) loadReport(reportID string, rows int) *Report {
	r := &Report{ID: reportID, Rows: make([]ReportRow, rows)}
	for i := range r.Rows {
		r.Rows[i] = ReportRow{Region: a.regions[i%len(a.regions)], Amount: int64(i * 100), Detail: a.detail}
	}
	return r
}

// serializeReport encodes a report with Thrift's binary protocol.
//
// CHURN: a new report-sized TMemoryBuffer and a new protocol for every
// request; the buffer is garbage as soon as the blob has been stored. A
// sync.Pool of buffers (Reset() before reuse) would remove nearly all of this
// allocation.
func serializeReport(ctx context.Context, r *Report) ([]byte, error) {
	buf := thrift.NewTMemoryBufferLen(estimateSize(r))
	proto := thrift.NewTBinaryProtocolConf(buf, &thrift.TConfiguration{})
	if err := r.Write(ctx, proto); err != nil {
		return nil, err
	}
	if err := proto.Flush(ctx); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// estimateSize pre-sizes the serialization buffer so it never regrows.
func estimateSize(r *Report) int {
	n := 64 + len(r.ID)
	for i := range r.Rows {
		n += 48 + len(r.Rows[i].Region) + len(r.Rows[i].Detail)
	}
	return n
}
