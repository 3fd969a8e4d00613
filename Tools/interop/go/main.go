// Command go-interop calls TradeCore's API through grpc-go (Debian's golang-google-grpc-dev, 1.33)
// with the messages and stubs that protoc-gen-go and protoc-gen-go-grpc generate from
// Schemas/*.proto, the way a Go service adopting TradeCore would, and checks every answer. It prints
// "ok" or "FAIL" per check, then "N passed, N failed", and exits 1 if any failed.
//
// The parts, in the order they run:
//   - keepalive (keepalive.go): two ClientConns with grpc-go's client keepalive, held while the
//     rest runs and checked at the end: every PING answered, no GOAWAY, still READY.
//   - flow (flow.go): the seed's flow end to end and the API's errors with their details.
//   - transport (transport.go): health, reflection, metadata, credentials, gzip, refusals, size
//     limits, large responses and streams (BDP pings), 1000 calls in flight, deadlines, cancellation.
//   - tls (tls.go): the same stack over TLS, with -tls-target.
//   - shutdown (shutdown.go): with -server-pid, SIGTERM under load and what grpc-go sees of the drain.
//
// Usage: go-interop -target HOST:PORT [-service-token T -user UUID:T -user UUID:T] [-server-pid PID]
//
//	[-tls-target HOST:PORT -tls-ca CERT.pem] [-keepalive-hold 25s] [-only flow,transport,...]
//
// The flow needs a fresh server: each user may connect the virtual broker once.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
)

type config struct {
	target       string
	serviceToken string
	alice, bob   []byte
	aliceToken   string
	bobToken     string
	serverPid    int
	only         string
	tlsTarget    string
	tlsCA        string
	keepalive    time.Duration
}

var startTime = time.Now()

type userFlag []string

func (u *userFlag) String() string     { return strings.Join(*u, ",") }
func (u *userFlag) Set(v string) error { *u = append(*u, v); return nil }

func main() {
	cfg := &config{}
	var users userFlag
	flag.StringVar(&cfg.target, "target", "127.0.0.1:50051", "the server's HOST:PORT")
	flag.StringVar(&cfg.serviceToken, "service-token", "", "a service token (none: the server is open)")
	flag.Var(&users, "user", "USER_UUID:TOKEN, twice (alice, then bob)")
	flag.IntVar(&cfg.serverPid, "server-pid", 0, "the server's process id: end with a SIGTERM drain under load")
	flag.StringVar(&cfg.only, "only", "", "comma-separated parts to run (flow,transport,tls,keepalive,shutdown); empty: all")
	flag.StringVar(&cfg.tlsTarget, "tls-target", "", "HOST:PORT of a server started with --tls-cert (optional)")
	flag.StringVar(&cfg.tlsCA, "tls-ca", "", "the PEM certificate that server presents")
	flag.DurationVar(&cfg.keepalive, "keepalive-hold", 25*time.Second, "how long the keepalive check holds its connections")
	flag.Parse()
	if len(users) == 2 {
		a, b := strings.SplitN(users[0], ":", 2), strings.SplitN(users[1], ":", 2)
		cfg.alice, cfg.aliceToken = parseUUID(a[0]), a[1]
		cfg.bob, cfg.bobToken = parseUUID(b[0]), b[1]
	} else {
		cfg.alice, cfg.bob = newUUID(), newUUID()
	}
	start := startTime
	fmt.Printf("grpc-go %s against %s\n", grpc.Version, cfg.target)

	conn, err := grpc.Dial(cfg.target, grpc.WithInsecure(), grpc.WithBlock(), grpc.WithTimeout(10*time.Second))
	if err != nil {
		fmt.Println("cannot connect:", err)
		os.Exit(1)
	}
	runs := func(part string) bool { return cfg.only == "" || strings.Contains(","+cfg.only+",", ","+part+",") }
	// The keepalive connections are held while the other checks run, and checked after them.
	finishKeepalive := func() {}
	if runs("keepalive") {
		finishKeepalive = runKeepalive(cfg)
	}
	var fs *flowState
	if runs("flow") {
		fs = runFlow(conn, cfg)
	}
	if runs("transport") {
		runTransport(conn, cfg, fs)
	}
	if runs("tls") && cfg.tlsTarget != "" {
		runTLS(cfg)
	}
	finishKeepalive()
	conn.Close()
	if runs("shutdown") && cfg.serverPid != 0 {
		runShutdown(cfg, fs)
	}

	resultsMu.Lock()
	defer resultsMu.Unlock()
	fmt.Printf("%d checks in %.1f s\n", passed+len(failures), time.Since(start).Seconds())
	fmt.Printf("%d passed, %d failed\n", passed, len(failures))
	if len(failures) > 0 {
		fmt.Printf("%d check(s) failed: %s\n", len(failures), strings.Join(failures, "; "))
		os.Exit(1)
	}
	fmt.Println("all checks passed")
}
