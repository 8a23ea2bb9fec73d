// Package telemetrypb holds the client and server bindings of the
// telemetry.v1.Telemetry service.
//
// Hand-written equivalent of what protoc-gen-go-grpc would emit for
//
//	service Telemetry {
//	  rpc DataStream(google.protobuf.StringValue) returns (stream google.protobuf.BytesValue);
//	}
//
// so the zoo needs no protoc step; the wire format is real protobuf.
package telemetrypb

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const telemetryDataStreamFullMethod = "/telemetry.v1.Telemetry/DataStream"

// TelemetryClient is the client API for the Telemetry service.
type TelemetryClient interface {
	DataStream(ctx context.Context, in *wrapperspb.StringValue, opts ...grpc.CallOption) (grpc.ServerStreamingClient[wrapperspb.BytesValue], error)
}

type telemetryClient struct {
	cc grpc.ClientConnInterface
}

// NewTelemetryClient wraps a connection.
func NewTelemetryClient(cc grpc.ClientConnInterface) TelemetryClient {
	return &telemetryClient{cc}
}

func (c *telemetryClient) DataStream(ctx context.Context, in *wrapperspb.StringValue, opts ...grpc.CallOption) (grpc.ServerStreamingClient[wrapperspb.BytesValue], error) {
	stream, err := c.cc.NewStream(ctx, &telemetryServiceDesc.Streams[0], telemetryDataStreamFullMethod, opts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[wrapperspb.StringValue, wrapperspb.BytesValue]{ClientStream: stream}
	if err := x.ClientStream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// TelemetryServer is the server API for the Telemetry service.
type TelemetryServer interface {
	DataStream(*wrapperspb.StringValue, grpc.ServerStreamingServer[wrapperspb.BytesValue]) error
}

// RegisterTelemetryServer registers srv on s.
func RegisterTelemetryServer(s grpc.ServiceRegistrar, srv TelemetryServer) {
	s.RegisterService(&telemetryServiceDesc, srv)
}

func telemetryDataStreamHandler(srv any, stream grpc.ServerStream) error {
	m := new(wrapperspb.StringValue)
	if err := stream.RecvMsg(m); err != nil {
		return err
	}
	return srv.(TelemetryServer).DataStream(m, &grpc.GenericServerStream[wrapperspb.StringValue, wrapperspb.BytesValue]{ServerStream: stream})
}

var telemetryServiceDesc = grpc.ServiceDesc{
	ServiceName: "telemetry.v1.Telemetry",
	HandlerType: (*TelemetryServer)(nil),
	Methods:     []grpc.MethodDesc{},
	Streams: []grpc.StreamDesc{{
		StreamName:    "DataStream",
		Handler:       telemetryDataStreamHandler,
		ServerStreams: true,
	}},
	Metadata: "telemetry/v1/telemetry.proto",
}
