// Package upstream is the telemetry service the metrics poller subscribes to.
// In production it is a separate service; the zoo runs it in-process on a
// loopback port so the scenario is self-contained.
package upstream

import (
	"encoding/binary"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TelemetryService streams metric samples for a source: first the recent
// backlog, then live samples until the client goes away.
type TelemetryService struct {
	Backlog    int           // samples replayed immediately on subscribe
	Interval   time.Duration // live sample period
	SampleSize int           // bytes per encoded sample batch
}

func (s *TelemetryService) DataStream(req *wrapperspb.StringValue, stream grpc.ServerStreamingServer[wrapperspb.BytesValue]) error {
	for seq := 0; seq < s.Backlog; seq++ {
		if err := stream.Send(s.encodeSample(req.GetValue(), seq)); err != nil {
			return err
		}
	}
	tick := time.NewTicker(s.Interval)
	defer tick.Stop()
	for seq := s.Backlog; ; seq++ {
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-tick.C:
		}
		if err := stream.Send(s.encodeSample(req.GetValue(), seq)); err != nil {
			return err
		}
	}
}

func (s *TelemetryService) encodeSample(source string, seq int) *wrapperspb.BytesValue {
	buf := make([]byte, s.SampleSize)
	n := copy(buf, source)
	if len(buf) >= n+8 {
		binary.BigEndian.PutUint64(buf[n:], uint64(seq))
	}
	for i := n + 8; i < len(buf); i++ {
		buf[i] = byte(seq + i)
	}
	return &wrapperspb.BytesValue{Value: buf}
}
