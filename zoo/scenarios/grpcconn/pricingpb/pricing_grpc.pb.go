// Package pricingpb holds the client and server bindings of the
// pricing.v1.Pricing service.
//
// Hand-written equivalent of what protoc-gen-go-grpc would emit for
//
//	service Pricing {
//	  rpc GetQuote(google.protobuf.StringValue) returns (google.protobuf.BytesValue);
//	}
//
// so the zoo needs no protoc step; the wire format is real protobuf.
package pricingpb

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const pricingGetQuoteFullMethod = "/pricing.v1.Pricing/GetQuote"

// PricingClient is the client API for the Pricing service.
type PricingClient interface {
	GetQuote(ctx context.Context, in *wrapperspb.StringValue, opts ...grpc.CallOption) (*wrapperspb.BytesValue, error)
}

type pricingClient struct {
	cc grpc.ClientConnInterface
}

// NewPricingClient wraps a connection.
func NewPricingClient(cc grpc.ClientConnInterface) PricingClient {
	return &pricingClient{cc}
}

func (c *pricingClient) GetQuote(ctx context.Context, in *wrapperspb.StringValue, opts ...grpc.CallOption) (*wrapperspb.BytesValue, error) {
	out := new(wrapperspb.BytesValue)
	if err := c.cc.Invoke(ctx, pricingGetQuoteFullMethod, in, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// PricingServer is the server API for the Pricing service.
type PricingServer interface {
	GetQuote(context.Context, *wrapperspb.StringValue) (*wrapperspb.BytesValue, error)
}

// RegisterPricingServer registers srv on s.
func RegisterPricingServer(s grpc.ServiceRegistrar, srv PricingServer) {
	s.RegisterService(&pricingServiceDesc, srv)
}

func pricingGetQuoteHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(PricingServer).GetQuote(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: pricingGetQuoteFullMethod}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(PricingServer).GetQuote(ctx, req.(*wrapperspb.StringValue))
	}
	return interceptor(ctx, in, info, handler)
}

var pricingServiceDesc = grpc.ServiceDesc{
	ServiceName: "pricing.v1.Pricing",
	HandlerType: (*PricingServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "GetQuote",
		Handler:    pricingGetQuoteHandler,
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "pricing/v1/pricing.proto",
}
