package kafkasuccesses

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/leakhunter/zoo/internal/mockkafka"
	"github.com/leakhunter/zoo/internal/zoo"
)

func init() {
	zoo.Register(zoo.Scenario{
		Name:  "kafka-successes-not-drained",
		Story: "sarama AsyncProducer with Return.Successes=true whose Successes() nobody reads: the producer stalls and per-request Publish goroutines pile up holding their events",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, false) },
	})
	zoo.Register(zoo.Scenario{
		Name:  "kafka-successes-not-drained-fixed",
		Story: "the fix of kafka-successes-not-drained: a goroutine drains Successes() for the producer's lifetime, so it never stalls",
		Run:   func(ctx context.Context, env zoo.Env) error { return run(ctx, env, true) },
	})
	zoo.RegisterPeer(brokerPeer, serveBroker)
}

// LineItem is one product in an order.
type LineItem struct {
	SKU        string `json:"sku"`
	Qty        int    `json:"qty"`
	PriceCents int64  `json:"price_cents"`
}

// OrderEvent is published on every order.
type OrderEvent struct {
	OrderID    string     `json:"order_id"`
	CustomerID string     `json:"customer_id"`
	PlacedAt   time.Time  `json:"placed_at"`
	Items      []LineItem `json:"items"`
}

// OrderService handles checkout requests.
type OrderService struct {
	events  *EventWriter
	catalog []LineItem
}

// PlaceOrder records an order and publishes its event in the background so
// that checkout latency does not depend on Kafka.
func (s *OrderService) PlaceOrder(n int) string {
	id := fmt.Sprintf("ord-%09d", n)
	evt := &OrderEvent{
		OrderID:    id,
		CustomerID: fmt.Sprintf("cust-%06d", n%100000),
		PlacedAt:   time.Now(),
		Items:      s.catalog, // the cart (shared, read-only here)
	}
	go s.events.Publish(evt)
	return id
}

const (
	orderTopic = "order-events"
	brokerPeer = "kafka-successes-not-drained/broker"
)

func serveBroker(ctx context.Context, ln net.Listener) error {
	return mockkafka.ServeCluster(ctx, ln, orderTopic, 1)
}

func run(ctx context.Context, env zoo.Env, drain bool) error {
	// The broker outlives the load, like a real cluster; it runs in a peer
	// process (MockBroker keeps every request it answered).
	addr, err := zoo.StartPeer(context.WithoutCancel(ctx), brokerPeer)
	if err != nil {
		return err
	}
	w, err := NewEventWriter([]string{addr}, orderTopic, drain)
	if err != nil {
		return err
	}
	// A cart whose JSON encoding is about 16 KiB (one ~45-byte item each).
	catalog := make([]LineItem, max(1, env.Bytes(16<<10)/45))
	for i := range catalog {
		catalog[i] = LineItem{SKU: fmt.Sprintf("SKU-%06d", i), Qty: 1 + i%3, PriceCents: int64(199 + i)}
	}
	svc := &OrderService{events: w, catalog: catalog}
	zoo.Every(ctx, env.RateOr(100), func(i int) { svc.PlaceOrder(i) })
	return nil
}
