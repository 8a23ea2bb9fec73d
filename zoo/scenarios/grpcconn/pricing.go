package grpcconn

import (
	"context"
	"encoding/binary"
	"hash/fnv"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// pricingService is the upstream quote engine (a separate service in
// production, a peer process here).
type pricingService struct {
	quoteSize int
}

func (s *pricingService) GetQuote(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.BytesValue, error) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(req.GetValue()))
	quote := make([]byte, s.quoteSize)
	for i := 0; i+8 <= len(quote); i += 8 {
		binary.LittleEndian.PutUint64(quote[i:], h.Sum64()+uint64(i))
	}
	return &wrapperspb.BytesValue{Value: quote}, nil
}
