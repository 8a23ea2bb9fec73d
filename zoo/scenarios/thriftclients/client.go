package thriftclients

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
)

// InventoryClient talks to InventoryService. It is safe for concurrent use
// because every call gets its own connection.
type InventoryClient struct {
	addr           string
	bufBytes       int
	conf           *thrift.TConfiguration
	heartbeatEvery time.Duration

	// maxConns bounds the pool (the fix): once full, calls reuse connections
	// round-robin. 0 opens a connection per call (the bug).
	maxConns int
	next     int

	mu    sync.Mutex
	conns []*inventoryConn // every connection opened, released by Close
}

// inventoryConn is one Thrift connection: socket -> buffered -> framed ->
// binary protocol.
type inventoryConn struct {
	mu     sync.Mutex
	trans  thrift.TTransport
	client *thrift.TStandardClient
	done   chan struct{}
}

// NewInventoryClient creates a client for addr; bufBytes sizes the buffered
// transport's read and write buffers.
func NewInventoryClient(addr string, bufBytes int) *InventoryClient {
	return &InventoryClient{
		addr:     addr,
		bufBytes: bufBytes,
		conf: &thrift.TConfiguration{
			ConnectTimeout: 2 * time.Second,
			SocketTimeout:  5 * time.Second,
		},
		heartbeatEvery: 30 * time.Second,
	}
}

// GetItem fetches one item.
//
// BUG: it opens a brand-new connection per call and never closes or reuses it:
// no pool, no cap. Each call leaves a socket, its buffers, a heartbeat
// goroutine here and two goroutines on the server behind.
func (c *InventoryClient) GetItem(ctx context.Context, sku string) (*Item, error) {
	conn, err := c.openConn()
	if err != nil {
		return nil, err
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	var res getItemResult
	if _, err := conn.client.Call(ctx, "getItem", &getItemArgs{SKU: sku}, &res); err != nil {
		return nil, err
	}
	if res.Success == nil {
		return nil, errors.New("getItem: empty result")
	}
	return res.Success, nil
}

// openConn dials the service and starts the connection's heartbeat.
func (c *InventoryClient) openConn() (*inventoryConn, error) {
	if c.maxConns > 0 {
		c.mu.Lock()
		if len(c.conns) >= c.maxConns {
			conn := c.conns[c.next%len(c.conns)]
			c.next++
			c.mu.Unlock()
			return conn, nil
		}
		c.mu.Unlock()
	}
	sock := thrift.NewTSocketConf(c.addr, c.conf)
	buffered := thrift.NewTBufferedTransport(sock, c.bufBytes)
	framed := thrift.NewTFramedTransportConf(buffered, c.conf)
	proto := thrift.NewTBinaryProtocolConf(framed, c.conf)
	if err := framed.Open(); err != nil {
		return nil, err
	}
	conn := &inventoryConn{
		trans:  framed,
		client: thrift.NewTStandardClient(proto, proto),
		done:   make(chan struct{}),
	}
	c.mu.Lock()
	c.conns = append(c.conns, conn)
	c.mu.Unlock()
	go c.heartbeat(conn)
	return conn, nil
}

// heartbeat pings an idle connection so the load balancer does not drop it.
func (c *InventoryClient) heartbeat(conn *inventoryConn) {
	t := time.NewTicker(c.heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-conn.done:
			return
		case <-t.C:
			conn.mu.Lock()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := conn.client.Call(ctx, "ping", &emptyStruct{name: "ping_args"}, &emptyStruct{name: "ping_result"})
			cancel()
			conn.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// Close releases every connection (called at shutdown only).
func (c *InventoryClient) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		close(conn.done)
		_ = conn.trans.Close()
	}
	c.conns = nil
}
