// grpc-client is a grpc-go client with default settings for Prism's interop suites. Messages are raw protobuf
// bytes (hex on the command line): the TypeScript test encodes them, so this module needs no generated code.
//
//	grpc-client -addr 127.0.0.1:8980 -method /pkg.Service/Method -hex 0a0161 [-stream] [-md k=v] [-repeat N]
//	            [-ca ca.pem [-cert client.pem -key client-key.pem] [-servername localhost]]
//
// -ca dials with TLS, trusting that CA; -cert and -key present a client certificate (mTLS).
// -repeat N opens N connections one after another; -calls M makes M calls on each. It prints one JSON line per call: {"code":0,"message":"","messages":N,"bytes":B,"ms":T}.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rawCodec passes message bytes through unchanged.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

type mdFlag []string

func (m *mdFlag) String() string     { return strings.Join(*m, ",") }
func (m *mdFlag) Set(v string) error { *m = append(*m, v); return nil }

type result struct {
	Code     uint32 `json:"code"`
	Message  string `json:"message"`
	Messages int    `json:"messages"`
	Bytes    int    `json:"bytes"`
	Ms       int64  `json:"ms"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8980", "server host:port")
	method := flag.String("method", "", "full method, /package.Service/Method")
	payloadHex := flag.String("hex", "", "request message as hex")
	payloadFile := flag.String("file", "", "request message read from this file (instead of -hex)")
	stream := flag.Bool("stream", false, "server-streaming call: read every response message")
	timeout := flag.Duration("timeout", 10*time.Second, "deadline of each call")
	repeat := flag.Int("repeat", 1, "connections, each closed right after its calls")
	perConn := flag.Int("calls", 1, "calls one after another on each connection")
	caFile := flag.String("ca", "", "TLS: the CA that signed the server's certificate (without it, plaintext)")
	certFile := flag.String("cert", "", "TLS: client certificate (with -key)")
	keyFile := flag.String("key", "", "TLS: client certificate's key")
	serverName := flag.String("servername", "", "TLS: name checked against the server's certificate (default: the host dialed)")
	var md mdFlag
	flag.Var(&md, "md", "metadata key=value (repeatable)")
	flag.Parse()

	creds, err := transportCredentials(*caFile, *certFile, *keyFile, *serverName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpc-client: tls:", err)
		os.Exit(2)
	}

	var payload []byte
	if *payloadFile != "" {
		payload, err = os.ReadFile(*payloadFile)
	} else {
		payload, err = hex.DecodeString(*payloadHex)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpc-client: request:", err)
		os.Exit(2)
	}
	pairs := []string{}
	for _, kv := range md {
		k, v, _ := strings.Cut(kv, "=")
		pairs = append(pairs, k, v)
	}
	out := json.NewEncoder(os.Stdout)
	for i := 0; i < *repeat; i++ {
		conn, err := grpc.NewClient(*addr,
			grpc.WithTransportCredentials(creds),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
		)
		if err != nil {
			fmt.Fprintln(os.Stderr, "grpc-client:", err)
			os.Exit(2)
		}
		for j := 0; j < *perConn; j++ {
			_ = out.Encode(call(conn, *method, payload, *stream, *timeout, metadata.Pairs(pairs...)))
		}
		conn.Close()
	}
}

func call(conn *grpc.ClientConn, method string, payload []byte, stream bool, timeout time.Duration, md metadata.MD) result {
	var err error
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), timeout)
	defer cancel()
	start := time.Now()
	var r result
	opts := []grpc.CallOption{grpc.ForceCodec(rawCodec{})}
	if !stream {
		var reply []byte
		err = conn.Invoke(ctx, method, &payload, &reply, opts...)
		if err == nil {
			r.Messages, r.Bytes = 1, len(reply)
		}
	} else {
		var s grpc.ClientStream
		s, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, opts...)
		if err == nil {
			err = s.SendMsg(&payload)
		}
		if err == nil {
			err = s.CloseSend()
		}
		for err == nil {
			var msg []byte
			if err = s.RecvMsg(&msg); err == nil {
				r.Messages++
				r.Bytes += len(msg)
			}
		}
		if err == io.EOF {
			err = nil
		}
	}
	r.Ms = time.Since(start).Milliseconds()
	st := status.Convert(err)
	r.Code, r.Message = uint32(st.Code()), st.Message()
	return r
}

// transportCredentials is plaintext without a CA, else TLS trusting caFile (and presenting certFile/keyFile).
func transportCredentials(caFile, certFile, keyFile, serverName string) (credentials.TransportCredentials, error) {
	if caFile == "" {
		return insecure.NewCredentials(), nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", caFile)
	}
	cfg := &tls.Config{RootCAs: roots, ServerName: serverName}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}
