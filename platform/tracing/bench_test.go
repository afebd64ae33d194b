package tracing_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The benchmarks measure what the otelgrpc handlers cost per unary call
// when nothing records (no SDK provider): the reason grpcserver and
// grpcclient leave them out unless tracing.Installed.
func BenchmarkUnaryPlain(b *testing.B)    { benchUnary(b, false) }
func BenchmarkUnaryOtelNoop(b *testing.B) { benchUnary(b, true) }

func benchUnary(b *testing.B, withOtel bool) {
	var sopts []grpc.ServerOption
	copts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if withOtel {
		sopts = append(sopts, grpc.StatsHandler(otelgrpc.NewServerHandler()))
		copts = append(copts, grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	}
	srv := grpc.NewServer(sopts...)
	srv.RegisterService(&pingService, struct{}{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), copts...)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := conn.Invoke(ctx, "/cobra.test.v1.Test/Ping", &emptypb.Empty{}, &emptypb.Empty{}); err != nil {
			b.Fatal(err)
		}
	}
}
