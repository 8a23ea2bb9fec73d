// Package mockkafka runs sarama's MockBroker (a real Kafka-protocol test broker) as
// the upstream of the zoo's Kafka scenarios.
package mockkafka

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
)

// brokerLog is the sarama.TestReporter the mock broker reports to: it logs
// (a bounded number of lines) instead of failing a test.
type brokerLog struct{ lines atomic.Int64 }

func (l *brokerLog) logf(format string, args ...any) {
	if l.lines.Add(1) <= 20 {
		fmt.Fprintf(os.Stderr, "mockbroker: "+format+"\n", args...)
	}
}

func (l *brokerLog) Error(args ...any)                 { l.logf("%s", fmt.Sprint(args...)) }
func (l *brokerLog) Errorf(format string, args ...any) { l.logf(format, args...) }
func (l *brokerLog) Fatal(args ...any)                 { l.logf("fatal: %s", fmt.Sprint(args...)) }
func (l *brokerLog) Fatalf(format string, args ...any) { l.logf("fatal: "+format, args...) }
func (l *brokerLog) Helper()                           {}

// StartCluster starts a one-broker Kafka stand-in on loopback that leads every
// partition of topic and acknowledges every produce request.
func StartCluster(topic string, partitions int32) *sarama.MockBroker {
	rep := &brokerLog{}
	return configure(sarama.NewMockBrokerAddr(rep, 1, "127.0.0.1:0"), rep, topic, partitions)
}

// ServeCluster runs the same one-broker stand-in on ln until ctx is done: the
// body of a zoo peer. MockBroker keeps every request it answered (its
// history), so a broker that receives the full load belongs in a peer
// process, where its memory is not part of the observed service's profile.
func ServeCluster(ctx context.Context, ln net.Listener, topic string, partitions int32) error {
	rep := &brokerLog{}
	b := configure(sarama.NewMockBrokerListener(rep, 1, ln), rep, topic, partitions)
	<-ctx.Done()
	b.Close()
	return nil
}

// ServeSlowCluster is ServeCluster with a broker that waits latency before
// every reply: an overloaded cluster (acks=all behind a lagging follower). The
// mock broker answers the requests of one connection one at a time, so a
// producer with one request in flight gets one acknowledgement per latency.
func ServeSlowCluster(ctx context.Context, ln net.Listener, topic string, partitions int32, latency time.Duration) error {
	rep := &brokerLog{}
	b := configure(sarama.NewMockBrokerListener(rep, 1, ln), rep, topic, partitions)
	b.SetLatency(latency)
	<-ctx.Done()
	b.Close()
	return nil
}

func configure(b *sarama.MockBroker, rep *brokerLog, topic string, partitions int32) *sarama.MockBroker {
	meta := sarama.NewMockMetadataResponse(rep).SetBroker(b.Addr(), b.BrokerID()).SetController(b.BrokerID())
	produce := sarama.NewMockProduceResponse(rep)
	for p := int32(0); p < partitions; p++ {
		meta.SetLeader(topic, p, b.BrokerID())
		produce.SetError(topic, p, sarama.ErrNoError)
	}
	b.SetHandlerByMap(map[string]sarama.MockResponse{
		"MetadataRequest": meta,
		"ProduceRequest":  produce,
	})
	return b
}
