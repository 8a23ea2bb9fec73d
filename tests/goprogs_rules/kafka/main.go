// Command kafka publishes every order event from its own goroutine through a
// sarama SyncProducer to an in-process mock broker that answers one produce
// request per 50 ms: publishing goroutines pile up in SendMessage.
//
// It prints "listening on ADDR" once pprof is served, then runs until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strconv"
	"time"

	"github.com/IBM/sarama"
)

type quietReporter struct{}

func (quietReporter) Error(...any)          {}
func (quietReporter) Errorf(string, ...any) {}
func (quietReporter) Fatal(...any)          {}
func (quietReporter) Fatalf(string, ...any) {}
func (quietReporter) Helper()               {}

func startBroker(topic string) *sarama.MockBroker {
	b := sarama.NewMockBrokerAddr(quietReporter{}, 1, "127.0.0.1:0")
	b.SetLatency(50 * time.Millisecond)
	meta := sarama.NewMockMetadataResponse(quietReporter{}).
		SetBroker(b.Addr(), b.BrokerID()).SetController(b.BrokerID()).
		SetLeader(topic, 0, b.BrokerID())
	produce := sarama.NewMockProduceResponse(quietReporter{}).SetError(topic, 0, sarama.ErrNoError)
	b.SetHandlerByMap(map[string]sarama.MockResponse{
		"MetadataRequest": meta,
		"ProduceRequest":  produce,
	})
	return b
}

// OrderPublisher sends order events to Kafka.
type OrderPublisher struct {
	producer sarama.SyncProducer
	topic    string
}

// PlaceOrder publishes the order's event in the background.
func (p *OrderPublisher) PlaceOrder(id int) {
	payload := make([]byte, 2048) // the encoded event
	copy(payload, strconv.Itoa(id))
	go p.publish(payload) // BUG: one goroutine per message, no bound, no backpressure
}

func (p *OrderPublisher) publish(payload []byte) {
	_, _, _ = p.producer.SendMessage(&sarama.ProducerMessage{
		Topic: p.topic,
		Value: sarama.ByteEncoder(payload),
	})
}

func main() {
	rate := flag.Int("rate", 200, "orders per second")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, nil)
	const topic = "orders"
	broker := startBroker(topic)
	cfg := sarama.NewConfig()
	cfg.ApiVersionsRequest = false
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForLocal
	cfg.Producer.Flush.MaxMessages = 1 // one message per request: the broker is the bottleneck
	cfg.Net.MaxOpenRequests = 1
	producer, err := sarama.NewSyncProducer([]string{broker.Addr()}, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pub := &OrderPublisher{producer: producer, topic: topic}
	fmt.Printf("listening on %s\n", ln.Addr())
	t := time.NewTicker(10 * time.Millisecond)
	start, done := time.Now(), 0
	for now := range t.C {
		for due := int(now.Sub(start).Seconds() * float64(*rate)); done < due; done++ {
			pub.PlaceOrder(done)
		}
	}
}
