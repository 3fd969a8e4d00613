package main

// SIGTERM under a grpc-go client: the server drains (README: health turns NOT_SERVING,
// subscribers get a last checkpoint, every connection gets GOAWAY, calls in flight finish, new
// ones are refused with UNAVAILABLE). While a Subscribe stream, a health Watch and unary load (slow
// Pings, CreateOrders) run on one ClientConn through a frame-counting relay, the server gets
// SIGTERM; grpc-go must see only OK or UNAVAILABLE, the calls in flight answered, the Watch told
// NOT_SERVING, a GOAWAY(NO_ERROR), and the subscriber every event up to a last checkpoint that its
// UNAVAILABLE status names as the position to resume after. (Commands still in flight may commit
// after that checkpoint: the drain lets them finish, and a resumed subscription delivers them.)

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"tradecore/gen/api"
	"tradecore/gen/common"
	"tradecore/gen/diagnostics"
	"tradecore/gen/events"
	"tradecore/gen/order"
)

func runShutdown(cfg *config, fs *flowState) {
	section("SIGTERM under load: the drain as grpc-go sees it")
	// The load goes straight to the server; the health Watch goes through the relay, which shows
	// the GOAWAY frames (a relay under the load would turn grpc-go's reconnection attempts, refused
	// by the server, into "connection closed").
	conn, err := grpc.Dial(cfg.target, grpc.WithInsecure(), grpc.WithBlock(), grpc.WithTimeout(5*time.Second))
	if !check("a ClientConn", err == nil, err) {
		return
	}
	defer conn.Close()
	tp, tconn, ok := dialThroughTap(cfg.target)
	if !ok {
		return
	}
	defer tp.close()
	defer tconn.Close()

	// The subscriber starts at the head: what it must see are the events of the load.
	ctx, cancel := within(cfg.serviceToken, 5*time.Second)
	head, err := api.NewEventStreamServiceClient(conn).Subscribe(ctx, &events.SubscribeRequest{CheckpointIntervalMs: 100})
	var from uint64
	if err == nil {
		for {
			m, err := head.Recv()
			if err != nil {
				break
			}
			if c := m.GetCaughtUp(); c != nil {
				from = c.Position
				break
			}
		}
	}
	cancel()
	sub := subscribe("drain", api.NewEventStreamServiceClient(conn), cfg.serviceToken, subscribeRequest(&from, 100))

	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	var watchSeen []string
	var watchEnd error
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		w, err := healthpb.NewHealthClient(tconn).Watch(watchCtx, &healthpb.HealthCheckRequest{Service: "tradecore.api.v1.CommandService"})
		if err != nil {
			watchEnd = err
			return
		}
		for {
			m, err := w.Recv()
			if err != nil {
				watchEnd = err
				return
			}
			watchSeen = append(watchSeen, m.Status.String())
		}
	}()

	// Unary load: slow Pings (always some in flight) and CreateOrders, until a while after SIGTERM.
	type outcome struct {
		what string
		at   time.Duration // relative to SIGTERM (negative: before)
		err  error
		pos  uint64
	}
	var mu sync.Mutex
	var outcomes []outcome
	var sigterm time.Time
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	diag := diagnostics.NewDiagnosticsClient(conn)
	cmd := api.NewCommandServiceClient(conn)
	record := func(what string, err error, pos uint64) {
		mu.Lock()
		at := time.Duration(0)
		if !sigterm.IsZero() {
			at = time.Since(sigterm)
		} else {
			at = -1
		}
		outcomes = append(outcomes, outcome{what, at, err, pos})
		mu.Unlock()
	}
	// Calls `call` again and again until the load stops, pausing a moment after a failed one.
	untilStopped := func(call func() error) {
		defer wg.Done()
		for {
			select {
			case <-stopLoad:
				return
			default:
			}
			if call() != nil {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	for g := 0; g < 16; g++ {
		wg.Add(2)
		go untilStopped(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			_, err := diag.Ping(ctx, &diagnostics.PingRequest{DelayMillis: 300})
			cancel()
			record("Ping", err, 0)
			return err
		})
		go untilStopped(func() error {
			ctx, cancel := within(cfg.aliceToken, 15*time.Second)
			var pos uint64
			var err error
			if fs != nil {
				var o *order.OrderResult
				o, err = cmd.CreateOrder(ctx, &order.CreateOrder{UserId: cfg.alice, AccountId: fs.cash, Symbol: "DRAIN",
					Side: common.OrderSide_ORDER_SIDE_BUY, Quantity: "1", OrderType: common.OrderType_ORDER_TYPE_LIMIT, LimitPrice: "2"})
				if err == nil {
					pos = o.Position
				}
			}
			cancel()
			record("CreateOrder", err, pos)
			return err
		})
	}
	time.Sleep(time.Second)
	mu.Lock()
	sigterm = time.Now()
	mu.Unlock()
	if err := syscall.Kill(cfg.serverPid, syscall.SIGTERM); !check("SIGTERM sent to the server", err == nil, err) {
		close(stopLoad)
		return
	}
	subEnd := sub.wait(15 * time.Second)
	time.Sleep(2 * time.Second)
	close(stopLoad)
	wg.Wait()
	stopWatch()
	<-watchDone

	// Tally the unary outcomes after SIGTERM by code and message.
	tally := map[string]int{}
	var maxAcked uint64
	okBefore, okAfter, other := 0, 0, 0
	var firstRefusal time.Duration = -1
	for _, o := range outcomes {
		if o.err == nil {
			if o.at < 0 {
				okBefore++
			} else {
				okAfter++
			}
			if o.pos > maxAcked {
				maxAcked = o.pos
			}
			continue
		}
		st := status.Convert(o.err)
		key := fmt.Sprintf("%s %s: %s", o.what, st.Code(), st.Message())
		tally[key]++
		if st.Code() != codes.Unavailable {
			other++
		}
		if firstRefusal < 0 && o.at >= 0 {
			firstRefusal = o.at
		}
	}
	var keys []string
	for k, v := range tally {
		keys = append(keys, fmt.Sprintf("%dx %s", v, k))
	}
	sort.Strings(keys)
	note("unary calls: %d OK before SIGTERM, %d OK after it (calls in flight finishing), failures %v; first failure %.0f ms after SIGTERM",
		okBefore, okAfter, keys, float64(firstRefusal.Microseconds())/1000)
	check("every unary call is OK or UNAVAILABLE", other == 0, keys)
	check("calls in flight at SIGTERM were answered (OK after the signal)", okAfter > 0, okAfter)

	evs, cps, _ := sub.snapshot()
	var lastCheckpoint uint64
	if len(cps) > 0 {
		lastCheckpoint = cps[len(cps)-1].Position
	}
	contiguous := true
	prev := from
	for _, e := range evs {
		contiguous = contiguous && e.GlobalPosition == prev+1
		prev = e.GlobalPosition
	}
	sub.mu.Lock()
	endedAfter := sub.endedAt.Sub(sigterm)
	sub.mu.Unlock()
	note("subscriber: %d events, last checkpoint %d, last acknowledged command %d, ended %.0f ms after SIGTERM with %v",
		len(evs), lastCheckpoint, maxAcked, float64(endedAfter.Microseconds())/1000, describeEnd(subEnd))
	check("the Subscribe stream ended by itself", subEnd != errStillOpen, subEnd)
	check("  ... with OK or UNAVAILABLE", subEnd == io.EOF || codeOf(subEnd) == codes.Unavailable, subEnd)
	// The last checkpoint is where a resumed subscription starts: everything up to it was delivered.
	// Commands still in flight may commit after it (the drain lets them finish); a subscriber that
	// resumes after the checkpoint gets those.
	check("  ... after a last checkpoint, which its status names as the place to resume",
		lastCheckpoint > 0 && lastCheckpoint >= prev && status.Convert(subEnd).Message() != "" &&
			containsPosition(status.Convert(subEnd).Message(), lastCheckpoint), lastCheckpoint, prev, subEnd)
	check("  ... having seen every event up to it once, in order", contiguous && prev == lastCheckpoint && prev > from, prev, lastCheckpoint)
	note("health Watch saw %v, ended with %v", watchSeen, describeEnd(watchEnd))
	check("the health Watch was told NOT_SERVING", len(watchSeen) >= 2 && watchSeen[len(watchSeen)-1] == "NOT_SERVING", watchSeen)
	_, toClient, connections := tp.counts()
	note("server GOAWAYs to the Watch's connection %v; TCP connections through the relay %d", toClient.Goaways, connections)
	check("the server sent GOAWAY(NO_ERROR)", len(toClient.Goaways) > 0 && toClient.Goaways[0][:8] == "NO_ERROR", toClient.Goaways)

	// Once the server is gone, a new call fails fast with UNAVAILABLE (grpc-go does not wait for
	// a connection unless the call asks it to).
	t0 := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	_, err = diag.Ping(ctx, &diagnostics.PingRequest{})
	cancel()
	check(fmt.Sprintf("a call after the drain is UNAVAILABLE (%.0f ms)", time.Since(t0).Seconds()*1000), codeOf(err) == codes.Unavailable, err)
}

func containsPosition(message string, position uint64) bool {
	return strings.Contains(message, fmt.Sprintf(" %d", position))
}

func describeEnd(err error) string {
	if err == io.EOF {
		return "OK (io.EOF)"
	}
	if err == nil {
		return "nil"
	}
	st := status.Convert(err)
	return fmt.Sprintf("%s %q", st.Code(), st.Message())
}
