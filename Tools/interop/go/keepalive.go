package main

// grpc-go's client keepalive, as a Go service configures it against load balancers that drop
// quiet connections: keepalive.ClientParameters{Time: 10s, Timeout: 5s, PermitWithoutStream:
// true}. grpc-go then sends a PING after every 10 s without input, with or without calls open, and
// closes the connection if the ACK takes over 5 s. Servers that police pings (grpc-go's own
// default allows one per 5 minutes) answer that with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings").
// Two ClientConns go through frame-counting relays: one idle with no call at all, one with a
// health Watch open that says nothing while the status holds (an idle stream). Both must stay
// READY on their first connection, every PING answered, no GOAWAY, and serve a call at the end.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"tradecore/gen/diagnostics"
)

type keepaliveConn struct {
	name   string
	tap    *tap
	conn   *grpc.ClientConn
	mu     sync.Mutex
	states []string
}

// watchStates records every connectivity state the ClientConn passes through.
func (k *keepaliveConn) watchStates(ctx context.Context) {
	state := k.conn.GetState()
	for k.conn.WaitForStateChange(ctx, state) {
		state = k.conn.GetState()
		k.mu.Lock()
		k.states = append(k.states, fmt.Sprintf("%s@%.1fs", state, time.Since(startTime).Seconds()))
		k.mu.Unlock()
	}
}

// runKeepalive holds the two connections for `hold` (at least 21 s, so that two 10 s intervals
// pass) and returns a function that checks and reports, to be called when the other checks are done.
func runKeepalive(cfg *config) (finish func()) {
	params := keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}
	var conns []*keepaliveConn
	ctx, stop := context.WithCancel(context.Background())
	for _, name := range []string{"idle connection", "connection with an idle Watch stream"} {
		tp, err := newTap(cfg.target)
		if err != nil {
			check("keepalive relay for the "+name, false, err)
			stop()
			return func() {}
		}
		conn, err := grpc.Dial(tp.addr(), grpc.WithInsecure(), grpc.WithBlock(), grpc.WithTimeout(5*time.Second), grpc.WithKeepaliveParams(params))
		if err != nil {
			check("keepalive ClientConn for the "+name, false, err)
			stop()
			return func() {}
		}
		k := &keepaliveConn{name: name, tap: tp, conn: conn}
		go k.watchStates(ctx)
		conns = append(conns, k)
	}
	// The idle stream: Watch answers SERVING once, then nothing while the status holds.
	watch, err := healthpb.NewHealthClient(conns[1].conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: ""})
	watchEnded := make(chan error, 1)
	if err == nil {
		if _, err = watch.Recv(); err == nil {
			go func() {
				for {
					if _, err := watch.Recv(); err != nil {
						watchEnded <- err
						return
					}
				}
			}()
		}
	}
	watchErr := err
	started := time.Now()
	return func() {
		if remaining := cfg.keepalive - time.Since(started); remaining > 0 {
			time.Sleep(remaining)
		}
		held := time.Since(started)
		section(fmt.Sprintf("client keepalive (Time 10 s, Timeout 5 s, PermitWithoutStream), held %.0f s", held.Seconds()))
		check("the Watch stream opened and said SERVING", watchErr == nil, watchErr)
		select {
		case err := <-watchEnded:
			check("the idle Watch stream is still open", false, err)
		default:
			check("the idle Watch stream is still open", true)
		}
		for _, k := range conns {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := diagnostics.NewDiagnosticsClient(k.conn).Ping(c, &diagnostics.PingRequest{Payload: []byte("still there")})
			cancel()
			toServer, toClient, connections := k.tap.settledCounts()
			k.mu.Lock()
			states := append([]string(nil), k.states...)
			k.mu.Unlock()
			note("%s: grpc-go sent %d PINGs, the server %d ACKs; server GOAWAYs %v; TCP connections %d; states after READY %v",
				k.name, toServer.Pings, toClient.PingAcks, toClient.Goaways, connections, states)
			// Pings are sent after 10 s without input; at least one per 10 s of the hold beyond the first.
			want := int(held/(10*time.Second)) - 1
			check(fmt.Sprintf("%s: grpc-go pinged (%d) and the server answered every PING", k.name, toServer.Pings),
				toServer.Pings >= want && want >= 1 && toClient.PingAcks >= toServer.Pings, toServer.Pings, toClient.PingAcks)
			check(k.name+": no GOAWAY (no ENHANCE_YOUR_CALM / too_many_pings)", len(toClient.Goaways) == 0, toClient.Goaways)
			check(k.name+": one TCP connection, READY throughout", connections == 1 && len(states) == 0 && k.conn.GetState() == connectivity.Ready, connections, states)
			check(k.name+": serves a call at the end", err == nil, err)
		}
		stop()
		for _, k := range conns {
			k.conn.Close()
			k.tap.close()
		}
	}
}
