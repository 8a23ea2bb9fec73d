// Package upstream is the telemetry service the metrics poller subscribes to.
// In production it is a separate service; the zoo runs it in a peer process
// (zoo.StartPeer) on a loopback port, so the poller's profiles hold only the
// client's side of the leak.
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
	// LiveLimit caps the live samples per stream (0: no cap). After the cap
	// the stream stays open but idle until the client goes away, so a stream
	// its client never reads never fills the flow-control window: the
	// service does not pile up queued sends or tickers for abandoned streams.
	LiveLimit int
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
		if s.LiveLimit > 0 && seq >= s.Backlog+s.LiveLimit {
			tick.Stop()
			<-stream.Context().Done()
			return stream.Context().Err()
		}
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
