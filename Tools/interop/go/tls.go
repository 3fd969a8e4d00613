package main

// grpc-go over TLS (credentials.NewClientTLSFromFile with the server's self-signed certificate):
// the handshake, ALPN h2, and calls whose messages span many TLS records.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io/ioutil"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"tradecore/gen/diagnostics"
)

func runTLS(cfg *config) {
	section("TLS")
	creds, err := credentials.NewClientTLSFromFile(cfg.tlsCA, "localhost")
	if !check("the server's certificate loads", err == nil, err) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, cfg.tlsTarget, grpc.WithTransportCredentials(creds), grpc.WithBlock())
	if !check("grpc-go connects over TLS, verifying the certificate", err == nil, err) {
		return
	}
	defer conn.Close()
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	check("Health.Check over TLS is SERVING", err == nil && h.Status == healthpb.HealthCheckResponse_SERVING, h, err)
	payload := make([]byte, 2<<20)
	rand.Read(payload)
	res, err := diagnostics.NewDiagnosticsClient(conn).Ping(ctx, &diagnostics.PingRequest{Payload: payload})
	check("a 2 MiB Ping over TLS is echoed intact", err == nil && bytes.Equal(res.GetPayload(), payload), err)
	ps, err := diagnostics.NewDiagnosticsClient(conn).PingStream(ctx, &diagnostics.PingStreamRequest{Count: 2000, Payload: make([]byte, 4096)})
	n := 0
	for err == nil {
		if _, err = ps.Recv(); err == nil {
			n++
		}
	}
	check("a PingStream of 2000 x 4 KiB over TLS arrives whole", n == 2000, n, err)
	// grpc-go 1.33 offers h2 and does not insist on it; check what the server picks.
	pem, _ := ioutil.ReadFile(cfg.tlsCA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	raw, err := tls.Dial("tcp", cfg.tlsTarget, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}})
	if check("a TLS handshake offering h2 and http/1.1", err == nil, err) {
		check("the server picks ALPN h2", raw.ConnectionState().NegotiatedProtocol == "h2", raw.ConnectionState().NegotiatedProtocol)
		raw.Close()
	}
}
