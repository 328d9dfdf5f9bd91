// A remote Prism pattern written with grpc-go, for the proxy's interop tests: LifecycleInterface (Initialize,
// Start, HealthCheck), grpc.health.v1 (Check, Watch) and KeyValueBasicInterface/Get, with hand-encoded protobuf
// (no code generation). It prints "listening on HOST:PORT", and on SIGTERM stops gracefully (GracefulStop: every
// open stream must end first) and prints "stopped".
//
//	go-pattern [-max-streams N]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

// rawCodec passes []byte through as the message, and protobuf messages (the health service's) as protobuf.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.(*[]byte); ok {
		return *b, nil
	}
	return proto.Marshal(v.(proto.Message))
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	if b, ok := v.(*[]byte); ok {
		*b = append([]byte(nil), data...)
		return nil
	}
	return proto.Unmarshal(data, v.(proto.Message))
}

// field encodes a length-delimited protobuf field.
func field(num int, value []byte) []byte {
	out := []byte{byte(num<<3 | 2)}
	n := len(value)
	for n >= 0x80 {
		out = append(out, byte(n)|0x80)
		n >>= 7
	}
	return append(append(out, byte(n)), value...)
}

var successTrue = []byte{0x08, 0x01}

// InitializeResponse{success: true, metadata: {name: "go-pattern", version: "1.0.0", interfaces: [{name: KeyValueBasicInterface}]}}
var initializeResponse = append(append([]byte{}, successTrue...), field(3, append(append(field(1, []byte("go-pattern")), field(2, []byte("1.0.0"))...),
	field(3, field(1, []byte("prism.interfaces.keyvalue.KeyValueBasicInterface")))...))...)

func unary(name string, answer func(req []byte) ([]byte, error)) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			out, err := answer(req)
			return &out, err
		},
	}
}

func fixed(b []byte) func([]byte) ([]byte, error) {
	return func([]byte) ([]byte, error) { return b, nil }
}

// watchLogger says when a health Watch opens and ends, so tests can wait for the proxy's.
type watchLogger struct{ *health.Server }

func (w watchLogger) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	fmt.Println("health watch opened")
	err := w.Server.Watch(req, stream)
	fmt.Println("health watch ended")
	return err
}

func main() {
	maxStreams := flag.Uint("max-streams", 0, "SETTINGS_MAX_CONCURRENT_STREAMS (0: grpc-go's default)")
	flag.Parse()
	opts := []grpc.ServerOption{grpc.ForceServerCodec(rawCodec{})}
	if *maxStreams > 0 {
		opts = append(opts, grpc.MaxConcurrentStreams(uint32(*maxStreams)))
	}
	server := grpc.NewServer(opts...)
	server.RegisterService(&grpc.ServiceDesc{
		ServiceName: "prism.interfaces.LifecycleInterface",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			unary("Initialize", fixed(initializeResponse)),
			unary("Start", fixed(successTrue)),
			unary("HealthCheck", fixed([]byte{0x08, 0x01})),
			unary("Drain", fixed(successTrue)),
			unary("Stop", fixed(successTrue)),
		},
	}, struct{}{})
	// Get answers found=true, value = the request's key; key "slow" takes 500 ms (and says when it starts).
	server.RegisterService(&grpc.ServiceDesc{
		ServiceName: "prism.interfaces.keyvalue.KeyValueBasicInterface",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{unary("Get", func(req []byte) ([]byte, error) {
			key := []byte{}
			if len(req) > 2 && req[0] == 0x0a {
				key = req[2 : 2+int(req[1])]
			}
			if string(key) == "slow" {
				fmt.Println("slow get started")
				time.Sleep(500 * time.Millisecond)
			}
			return append([]byte{0x08, 0x01}, field(2, key)...), nil
		})},
	}, struct{}{})
	healthpb.RegisterHealthServer(server, watchLogger{health.NewServer()})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", lis.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		fmt.Println("stopping gracefully")
		server.GracefulStop()
	}()
	if err := server.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("stopped")
}
