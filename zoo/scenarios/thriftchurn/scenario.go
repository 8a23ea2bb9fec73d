package thriftchurn

import (
	"context"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/leakhunter/zoo/internal/thriftkit"
	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "thrift-buffer-churn",
		Story: "Thrift handler serializes each report into a new TMemoryBuffer/TBinaryProtocol: tens of MB/s allocated, nothing retained",
		Run:   run,
	})
}

// StartArchiveServer serves ReportArchive (framed, binary) on a loopback port.
func StartArchiveServer(h *ReportArchiver) (*thrift.TSimpleServer, string, error) {
	sock, err := thrift.NewTServerSocket("127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	conf := &thrift.TConfiguration{}
	srv := thrift.NewTSimpleServer4(thriftkit.NewProcessor(map[string]thrift.TProcessorFunction{"archive": &archiveFunc{h}}), sock,
		thrift.NewTFramedTransportFactoryConf(thrift.NewTTransportFactory(), conf),
		thrift.NewTBinaryProtocolFactoryConf(conf))
	if err := srv.Listen(); err != nil {
		return nil, "", err
	}
	go func() { _ = srv.AcceptLoop() }()
	return srv, sock.Addr().String(), nil
}

// ArchiveClient is a single, reused connection to ReportArchive (done right).
type ArchiveClient struct {
	trans  thrift.TTransport
	client *thrift.TStandardClient
}

// DialArchive connects to addr.
func DialArchive(addr string) (*ArchiveClient, error) {
	conf := &thrift.TConfiguration{}
	trans := thrift.NewTFramedTransportConf(thrift.NewTSocketConf(addr, conf), conf)
	if err := trans.Open(); err != nil {
		return nil, err
	}
	proto := thrift.NewTBinaryProtocolConf(trans, conf)
	return &ArchiveClient{trans: trans, client: thrift.NewTStandardClient(proto, proto)}, nil
}

// Archive asks the service to archive a report.
func (c *ArchiveClient) Archive(ctx context.Context, reportID string, rows int) (*Receipt, error) {
	var res archiveResult
	if _, err := c.client.Call(ctx, "archive", &archiveArgs{ReportID: reportID, Rows: int32(rows)}, &res); err != nil {
		return nil, err
	}
	return res.Success, nil
}

// Close closes the connection.
func (c *ArchiveClient) Close() error { return c.trans.Close() }

// run: the nightly-report job archives 128-row reports (about 512 KiB each)
// back to back.
func run(ctx context.Context, env zoo.Env) error {
	srv, addr, err := StartArchiveServer(NewReportArchiver(env.Bytes(4 << 10)))
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop() }()
	client, err := DialArchive(addr)
	if err != nil {
		return err
	}
	defer func() { _ = client.Close() }()
	zoo.Every(ctx, env.RateOr(80), func(i int) {
		_, _ = client.Archive(ctx, fmt.Sprintf("report-%08d", i), 128)
	})
	return nil
}
