package main

// grpc-go's own transport behaviour against the server: the standard health and reflection
// clients, metadata both ways, per-RPC credentials, gzip requests, the message size limit, large
// unary responses and large server streams (which make grpc-go's BDP estimator ping and resize its
// windows), deadlines, cancellation under load, and 1000 calls in flight on one ClientConn.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	refl "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"tradecore/gen/api"
	"tradecore/gen/broker_account"
	"tradecore/gen/common"
	"tradecore/gen/diagnostics"
	"tradecore/gen/events"
	"tradecore/gen/order"
)

// fakeSnappy is an identity "compressor" registered under a name the server does not read.
type fakeSnappy struct{}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error                             { return nil }
func (fakeSnappy) Compress(w io.Writer) (io.WriteCloser, error) { return nopWriteCloser{w}, nil }
func (fakeSnappy) Decompress(r io.Reader) (io.Reader, error)    { return r, nil }
func (fakeSnappy) Name() string                                 { return "snappy" }

func init() { encoding.RegisterCompressor(fakeSnappy{}) }

// bearer is a grpc-go PerRPCCredentials that sends the token on plain h2c too (grpc-go's own
// oauth.NewOauthAccess insists on TLS).
type bearer string

func (b bearer) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (b bearer) RequireTransportSecurity() bool { return false }

func serverStats(conn *grpc.ClientConn) *diagnostics.ServerStats {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := diagnostics.NewDiagnosticsClient(conn).GetServerStats(ctx, &diagnostics.ServerStatsRequest{})
	if err != nil {
		return &diagnostics.ServerStats{}
	}
	return s
}

func runTransport(conn *grpc.ClientConn, cfg *config, fs *flowState) {
	diag := diagnostics.NewDiagnosticsClient(conn)

	// The standard health client from grpc-go itself (not stubs generated from Schemas/health.proto,
	// which cannot be linked beside it): what grpc_health_probe and grpc-go's client-side health
	// checking call.
	section("health: grpc-go's grpc_health_v1 client")
	health := healthpb.NewHealthClient(conn)
	for _, service := range []string{"", "tradecore.api.v1.CommandService", "tradecore.api.v1.EventStreamService"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		cancel()
		check(fmt.Sprintf("Check(%q) is SERVING", service), err == nil && h.Status == healthpb.HealthCheckResponse_SERVING, h, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	cancel()
	expectCode("Check of an unknown service is NOT_FOUND", codes.NotFound, err)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	watch, err := health.Watch(ctx, &healthpb.HealthCheckRequest{Service: ""})
	if err == nil {
		var first *healthpb.HealthCheckResponse
		first, err = watch.Recv()
		check("Watch(\"\") first says SERVING", err == nil && first.Status == healthpb.HealthCheckResponse_SERVING, first, err)
	} else {
		check("Watch opens", false, err)
	}
	cancel()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	watch, err = health.Watch(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	if err == nil {
		var first *healthpb.HealthCheckResponse
		first, err = watch.Recv()
		check("Watch of an unknown service says SERVICE_UNKNOWN (and stays open)", err == nil && first.Status == healthpb.HealthCheckResponse_SERVICE_UNKNOWN, first, err)
	}
	cancel()

	section("reflection: grpc-go's v1alpha client (grpc-go 1.33 has no v1 client)")
	runReflection(conn)

	// Metadata both ways: the diagnostics service echoes x-echo-* keys as headers and trailers, so
	// grpc-go's encoding of repeated keys and of binary (-bin) values is checked on the wire.
	section("metadata")
	var header, trailer metadata.MD
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	binValue := []byte{0, 1, 2, 0xfe, 0xff, 'x'} // grpc-go sends -bin values base64 without padding
	ctx = metadata.AppendToOutgoingContext(ctx, "x-echo-text", "hello", "x-echo-text", "again", "x-echo-blob-bin", string(binValue))
	_, err = diag.Ping(ctx, &diagnostics.PingRequest{Payload: []byte("md")}, grpc.Header(&header), grpc.Trailer(&trailer))
	cancel()
	check("Ping with metadata answers", err == nil, err)
	note("response headers %q; trailers %q", header, trailer)
	check("x-echo- text metadata comes back in headers, both values in order", fmt.Sprint(header.Get("x-echo-text")) == "[hello again]", header.Get("x-echo-text"))
	check("... and in trailers", fmt.Sprint(trailer.Get("x-echo-text")) == "[hello again]", trailer.Get("x-echo-text"))
	check("x-echo-*-bin binary metadata (unpadded base64 from grpc-go) comes back byte for byte",
		len(header.Get("x-echo-blob-bin")) == 1 && header.Get("x-echo-blob-bin")[0] == string(binValue), header.Get("x-echo-blob-bin"))
	// The API (not the diagnostics probe) keeps a caller's x-request-id and returns it: in the
	// headers of an answer, in the trailers of a failure (grpc-go's view of a trailers-only response).
	if fs != nil {
		header = nil
		ctx, cancel = within(cfg.aliceToken, 5*time.Second)
		ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "5f0c1a2e-8a57-4bde-9c7d-3f1e2d4c5b6a")
		_, err = api.NewQueryServiceClient(conn).GetAccountsByUser(ctx, &broker_account.GetAccountsByUser{UserId: cfg.alice}, grpc.Header(&header))
		cancel()
		check("x-request-id is returned in the headers of an answered API call", err == nil &&
			fmt.Sprint(header.Get("x-request-id")) == "[5f0c1a2e-8a57-4bde-9c7d-3f1e2d4c5b6a]", header, err)
	}
	for _, id := range []string{"9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "nginx-style-0123456789abcdef"} {
		header, trailer = nil, nil
		ctx, cancel = within(cfg.aliceToken, 5*time.Second)
		ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
		_, err = api.NewQueryServiceClient(conn).GetOrder(ctx, &order.GetOrder{OrderId: newUUID(), UserId: cfg.alice}, grpc.Header(&header), grpc.Trailer(&trailer))
		cancel()
		echoed := append(header.Get("x-request-id"), trailer.Get("x-request-id")...)
		note("x-request-id %q on an API call: headers %v trailers %v (%v)", id, header, trailer, codeOf(err))
		check(fmt.Sprintf("x-request-id %q is returned on a failed API call", id), len(echoed) > 0 && echoed[0] == id, echoed)
	}
	if cfg.serviceToken != "" {
		creds, err := grpc.Dial(cfg.target, grpc.WithInsecure(), grpc.WithPerRPCCredentials(bearer(cfg.aliceToken)))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = api.NewQueryServiceClient(creds).GetOrder(ctx, &order.GetOrder{OrderId: newUUID(), UserId: cfg.alice})
			cancel()
			// NOT_FOUND, not UNAUTHENTICATED: the token from WithPerRPCCredentials was accepted.
			expectCode("a token through grpc.WithPerRPCCredentials authenticates (NOT_FOUND for a random order)", codes.NotFound, err)
			creds.Close()
		}
	}

	section("gzip-compressed requests (grpc.UseCompressor(gzip.Name))")
	zconn, err := grpc.Dial(cfg.target, grpc.WithInsecure(), grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name)))
	if check("a ClientConn with gzip as its default compressor", err == nil, err) {
		zdiag := diagnostics.NewDiagnosticsClient(zconn)
		payload := bytes.Repeat([]byte("compressible "), 80000) // ~1 MB, compresses to a few KB
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var h metadata.MD
		res, err := zdiag.Ping(ctx, &diagnostics.PingRequest{Payload: payload}, grpc.Header(&h))
		cancel()
		check("a gzip Ping of 1 MB is echoed intact", err == nil && bytes.Equal(res.Payload, payload), err)
		note("response grpc-encoding %v, grpc-accept-encoding %v", h.Get("grpc-encoding"), h.Get("grpc-accept-encoding"))
		if fs != nil {
			ctx, cancel = within(cfg.aliceToken, 10*time.Second)
			o, err := api.NewCommandServiceClient(zconn).CreateOrder(ctx, &order.CreateOrder{UserId: cfg.alice, AccountId: fs.cash, Symbol: "GZIP",
				Side: common.OrderSide_ORDER_SIDE_BUY, Quantity: "1", OrderType: common.OrderType_ORDER_TYPE_LIMIT, LimitPrice: "1"})
			cancel()
			check("a gzip CreateOrder goes through", err == nil && o.Position > 0, err)
			ctx, cancel = within(cfg.aliceToken, 10*time.Second)
			_, err = api.NewCommandServiceClient(zconn).CreateOrder(ctx, &order.CreateOrder{UserId: cfg.alice, AccountId: fs.cash, Symbol: "GZIP",
				Side: common.OrderSide_ORDER_SIDE_BUY, Quantity: "0", OrderType: common.OrderType_ORDER_TYPE_LIMIT, LimitPrice: "1"})
			cancel()
			r := expectCode("an invalid gzip CreateOrder still gets its details", codes.InvalidArgument, err)
			check("  ... BadRequest naming quantity", fmt.Sprint(r.fields()) == "[quantity]", r)
		}
		// 64 MiB of zeros is 64 KiB compressed: the server must judge the size decompressed.
		ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
		_, err = zdiag.Ping(ctx, &diagnostics.PingRequest{Payload: make([]byte, 64<<20)}, grpc.MaxCallSendMsgSize(128<<20))
		cancel()
		r := expectCode("a gzip request that inflates past the limit is RESOURCE_EXHAUSTED", codes.ResourceExhausted, err)
		note("%s", r)
		zconn.Close()
	}

	section("what the transport refuses, and content-type variants")
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	err = conn.Invoke(ctx, "/tradecore.api.v1.CommandService/NoSuchMethod", &diagnostics.PingRequest{}, &diagnostics.PingResponse{})
	note("%s", expectCode("an unknown method is UNIMPLEMENTED", codes.Unimplemented, err))
	// grpc-message is percent-encoded on the wire; grpc-go must decode it to the same text.
	err = conn.Invoke(ctx, "/tradecore.api.v1.CommandService/Créer", &diagnostics.PingRequest{}, &diagnostics.PingResponse{})
	check("a non-ASCII status message arrives decoded (grpc-message percent-encoding)", codeOf(err) == codes.Unimplemented &&
		strings.HasSuffix(status.Convert(err).Message(), "/Créer"), err)
	_, err = diag.Ping(ctx, &diagnostics.PingRequest{Payload: []byte("x")}, grpc.UseCompressor(fakeSnappy{}.Name()))
	note("%s", expectCode("a compressor the server lacks (snappy) is UNIMPLEMENTED", codes.Unimplemented, err))
	res0, err := diag.Ping(ctx, &diagnostics.PingRequest{Payload: []byte("proto")}, grpc.CallContentSubtype("proto"))
	check("content-type application/grpc+proto (grpc.CallContentSubtype) is served", err == nil && string(res0.GetPayload()) == "proto", err)
	cancel()

	// The server's 4 MiB request limit: a larger request gets RESOURCE_EXHAUSTED (no details: the
	// transport refuses it before the API sees it) and the connection goes on serving.
	section("the message size limit")
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	_, err = diag.Ping(ctx, &diagnostics.PingRequest{Payload: make([]byte, 5<<20)}, grpc.MaxCallSendMsgSize(16<<20))
	cancel()
	r := expectCode("a 5 MiB request (limit 4 MiB) is RESOURCE_EXHAUSTED", codes.ResourceExhausted, err)
	note("%s", r)
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	_, err = diag.Ping(ctx, &diagnostics.PingRequest{Payload: []byte("after")})
	cancel()
	check("the connection serves the next call", err == nil, err)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	big := make([]byte, 4<<20-64)
	rand.Read(big)
	res, err := diag.Ping(ctx, &diagnostics.PingRequest{Payload: big})
	cancel()
	check("a request just under 4 MiB is echoed (a response just under grpc-go's 4 MiB receive limit)", err == nil && bytes.Equal(res.GetPayload(), big), err)

	section("large unary responses and streams, through a frame-counting relay")
	runBulk(conn, cfg, fs)

	// grpc-go sends its deadline as grpc-timeout; a call the server cannot finish in time must end
	// at the deadline, and the server must drop it (its active call count falls back).
	section("deadlines")
	// Calls open on the server besides these checks' own (the keepalive check's Watch, say): what
	// the server must come back to once the calls below end.
	baseline := serverStats(conn).ActiveCalls
	t0 := time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = diag.Ping(ctx, &diagnostics.PingRequest{DelayMillis: 3000})
	cancel()
	took := time.Since(t0)
	check("a Ping delayed 3 s under a 300 ms deadline is DEADLINE_EXCEEDED", codeOf(err) == codes.DeadlineExceeded, err)
	check(fmt.Sprintf("  ... in time (%.0f ms)", float64(took.Microseconds())/1000), took < 450*time.Millisecond, took)
	waitUntil("the server lets go of the expired call", 3*time.Second, func() bool { return serverStats(conn).ActiveCalls <= baseline })

	section("cancellation")
	runCancellation(conn, cfg, baseline)
}

func runReflection(conn *grpc.ClientConn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := refl.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if !check("ServerReflectionInfo opens", err == nil, err) {
		return
	}
	ask := func(req *refl.ServerReflectionRequest) (*refl.ServerReflectionResponse, error) {
		if err := stream.Send(req); err != nil {
			return nil, err
		}
		return stream.Recv()
	}
	res, err := ask(&refl.ServerReflectionRequest{MessageRequest: &refl.ServerReflectionRequest_ListServices{ListServices: ""}})
	var names []string
	if err == nil {
		for _, s := range res.GetListServicesResponse().GetService() {
			names = append(names, s.Name)
		}
	}
	sort.Strings(names)
	note("services: %v", names)
	has := func(n string) bool {
		for _, x := range names {
			if x == n {
				return true
			}
		}
		return false
	}
	check("list_services names the API, health and reflection", has("tradecore.api.v1.CommandService") && has("tradecore.api.v1.EventStreamService") &&
		has("grpc.health.v1.Health"), names, err)
	res, err = ask(&refl.ServerReflectionRequest{MessageRequest: &refl.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "tradecore.api.v1.CommandService.CreateOrder"}})
	if !check("file_containing_symbol for a method answers with files", err == nil && len(res.GetFileDescriptorResponse().GetFileDescriptorProto()) > 0, err, res.GetErrorResponse()) {
		return
	}
	// The files must build into descriptors with protobuf-go's own protodesc, dependencies included.
	set := &descriptorpb.FileDescriptorSet{}
	for _, raw := range res.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(raw, fd); err != nil {
			check("the reflected files decode", false, err)
			return
		}
		set.File = append(set.File, fd)
	}
	var fileNames []string
	for _, f := range set.File {
		fileNames = append(fileNames, f.GetName())
	}
	note("files: %v", fileNames)
	files, err := protodesc.NewFiles(set)
	if !check("protodesc.NewFiles builds them (every dependency sent)", err == nil, err) {
		return
	}
	d, err := files.FindDescriptorByName("tradecore.api.v1.CommandService")
	ok := false
	if err == nil {
		m := d.(protoreflect.ServiceDescriptor).Methods().ByName("CreateOrder")
		ok = m != nil && m.Input().FullName() == "tradecore.order.v1.CreateOrder" && m.Input().Fields().ByName("quantity") != nil
	}
	check("CommandService.CreateOrder resolves to tradecore.order.v1.CreateOrder with its fields", ok, err)
	res, err = ask(&refl.ServerReflectionRequest{MessageRequest: &refl.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "no.such.Symbol"}})
	check("an unknown symbol is an error_response NOT_FOUND", err == nil && res.GetErrorResponse().GetErrorCode() == int32(codes.NotFound), res, err)
	stream.CloseSend()
	_, err = stream.Recv()
	check("CloseSend ends the reflection stream with OK", err == io.EOF, err)
}

// runBulk creates a few thousand orders with 1000 calls in flight on one ClientConn, then reads
// them back in large responses and as one long Subscribe from the start of the log, through the
// frame-counting relay, so grpc-go's BDP pings and window updates go to the server.
func runBulk(conn *grpc.ClientConn, cfg *config, fs *flowState) {
	tp, tconn, ok := dialThroughTap(cfg.target)
	if !ok {
		return
	}
	defer tp.close()
	defer tconn.Close()
	diag := diagnostics.NewDiagnosticsClient(tconn)

	// 1000 unary calls at once on one ClientConn: more than the server's 256 concurrent streams,
	// so grpc-go queues the rest until streams close.
	const inFlight = 1000
	var wg sync.WaitGroup
	var okCount int64
	errs := map[string]int{}
	var errsMu sync.Mutex
	// Counts a failed call by its status and message.
	countFailure := func(err error) {
		errsMu.Lock()
		errs[fmt.Sprint(status.Code(err), ": ", status.Convert(err).Message())]++
		errsMu.Unlock()
	}
	t0 := time.Now()
	for i := 0; i < inFlight; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := diag.Ping(ctx, &diagnostics.PingRequest{Payload: []byte(fmt.Sprint(i))})
			if err == nil && string(res.Payload) == fmt.Sprint(i) {
				atomic.AddInt64(&okCount, 1)
			} else {
				countFailure(err)
			}
		}(i)
	}
	wg.Wait()
	check(fmt.Sprintf("1000 concurrent Pings on one ClientConn all answer (%.0f ms)", time.Since(t0).Seconds()*1000), okCount == inFlight, okCount, errs)

	if fs == nil {
		return
	}
	cmd := api.NewCommandServiceClient(tconn)
	const orders = 3000
	var created int64
	var lastPos uint64
	var posMu sync.Mutex
	errs = map[string]int{}
	t0 = time.Now()
	sem := make(chan struct{}, inFlight)
	// Read-your-writes while the writes pour in: queries at the newest acknowledged position under
	// a 20 ms deadline. Each must end in time, answered or DEADLINE_EXCEEDED (the server's own
	// READ_MODEL_BEHIND a little before the deadline, or grpc-go's when that is late).
	rywDone := make(chan struct{})
	var ryw []string
	var rywLate []time.Duration
	go func() {
		defer close(rywDone)
		qry := api.NewQueryServiceClient(tconn)
		for atomic.LoadInt64(&created) < orders*9/10 && time.Since(t0) < 20*time.Second {
			posMu.Lock()
			pos := lastPos
			posMu.Unlock()
			if pos == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			ctx, cancel := within(cfg.aliceToken, 20*time.Millisecond)
			started := time.Now()
			_, err := qry.GetAccountsByUser(ctx, &broker_account.GetAccountsByUser{UserId: cfg.alice, MinPosition: pos})
			took := time.Since(started)
			cancel()
			r := rich(err)
			ryw = append(ryw, fmt.Sprint(codeOf(err), " ", r.reason()))
			rywLate = append(rywLate, took-20*time.Millisecond)
		}
	}()
	for i := 0; i < orders; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := within(cfg.aliceToken, 30*time.Second)
			defer cancel()
			o, err := cmd.CreateOrder(ctx, &order.CreateOrder{UserId: cfg.alice, AccountId: fs.cash, Symbol: "BULK",
				Side: common.OrderSide_ORDER_SIDE_BUY, Quantity: fmt.Sprint(1 + i%7), OrderType: common.OrderType_ORDER_TYPE_LIMIT, LimitPrice: "1.5"})
			if err == nil {
				atomic.AddInt64(&created, 1)
				posMu.Lock()
				if o.Position > lastPos {
					lastPos = o.Position
				}
				posMu.Unlock()
			} else {
				countFailure(err)
			}
		}(i)
	}
	wg.Wait()
	<-rywDone
	d := time.Since(t0)
	rywCounts := map[string]int{}
	inTime, worst := true, time.Duration(0)
	for i, outcome := range ryw {
		rywCounts[outcome]++
		if rywLate[i] > worst {
			worst = rywLate[i]
		}
		inTime = inTime && (strings.HasPrefix(outcome, "OK") || strings.HasPrefix(outcome, "DeadlineExceeded"))
	}
	note("read-your-writes at the newest position, 20 ms deadline, during the writes: %v; latest end %.1f ms past the deadline", rywCounts, float64(worst.Microseconds())/1000)
	check("  ... each answered or DEADLINE_EXCEEDED, within 100 ms of its deadline", len(ryw) > 0 && inTime && worst < 100*time.Millisecond, rywCounts, worst)
	check(fmt.Sprintf("3000 CreateOrders, 1000 in flight on one ClientConn, all commit (%.1f s, %.0f/s)", d.Seconds(), orders/d.Seconds()), created == orders, created, errs)

	// Large unary responses: 1000 orders a page (about 300 KB), and 3 MiB echoes four at a time.
	qry := api.NewQueryServiceClient(tconn)
	ctx, cancel := within(cfg.aliceToken, 20*time.Second)
	var pages, listed int
	var after []byte
	var size int
	for {
		l, err := qry.ListOrders(ctx, &order.ListOrders{UserId: cfg.alice, PageSize: 1000, AfterOrderId: after, MinPosition: lastPos})
		if err != nil {
			check("ListOrders pages of 1000", false, err)
			break
		}
		pages++
		listed += len(l.Orders)
		size += proto.Size(l)
		after = l.NextAfterOrderId
		if len(after) == 0 || pages > 20 {
			break
		}
	}
	cancel()
	check(fmt.Sprintf("ListOrders in pages of 1000 reads every order (%d pages, %d KB)", pages, size/1024), listed >= orders, listed)
	big := make([]byte, 3<<20)
	rand.Read(big)
	var bigOK int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := diag.Ping(ctx, &diagnostics.PingRequest{Payload: big})
			if err == nil && bytes.Equal(res.Payload, big) {
				atomic.AddInt64(&bigOK, 1)
			} else if err != nil {
				note("3 MiB Ping: %v", err)
			}
		}()
	}
	wg.Wait()
	check("four 3 MiB Pings at once echo intact", bigOK == 4, bigOK)

	// One long Subscribe from the start of the log: every event once, in order, at full speed.
	ev := api.NewEventStreamServiceClient(tconn)
	t0 = time.Now()
	ctx, cancel = context.WithTimeout(as(context.Background(), cfg.serviceToken), 30*time.Second)
	stream, err := ev.Subscribe(ctx, &events.SubscribeRequest{})
	var count, bytesRead int
	var prev uint64
	inOrder := true
	if err == nil {
		for {
			m, err := stream.Recv()
			if err != nil {
				check("the catch-up read runs to the head", false, err)
				break
			}
			if e := m.GetEvent(); e != nil {
				count++
				bytesRead += proto.Size(e)
				inOrder = inOrder && e.GlobalPosition == prev+1
				prev = e.GlobalPosition
			}
			if m.GetCaughtUp() != nil && prev >= lastPos {
				break
			}
		}
	}
	cancel()
	d = time.Since(t0)
	check(fmt.Sprintf("Subscribe from the start reads %d events (%d KB) in order, to the head (%.2f s)", count, bytesRead/1024, d.Seconds()),
		inOrder && prev >= lastPos && count > 0, count, prev, lastPos)

	// A long server stream: 40 MB of PingStream responses, the window growing as grpc-go measures.
	t0 = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	ps, err := diag.PingStream(ctx, &diagnostics.PingStreamRequest{Count: 10000, Payload: make([]byte, 4096)})
	n := 0
	seqOK := true
	if err == nil {
		for {
			m, err := ps.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				note("PingStream: %v", err)
				break
			}
			seqOK = seqOK && m.Sequence == uint64(n)
			n++
		}
	}
	cancel()
	d = time.Since(t0)
	check(fmt.Sprintf("a PingStream of 10000 x 4 KiB arrives whole and in sequence (%.2f s, %.0f MB/s)", d.Seconds(), 40/d.Seconds()), n == 10000 && seqOK, n, err)

	toServer, toClient, connections := tp.settledCounts()
	note("frames from grpc-go: %d PINGs, %d SETTINGS, %d WINDOW_UPDATEs, %d RST_STREAMs %v, GOAWAYs %v",
		toServer.Pings, toServer.Settings, toServer.WindowUpdates, toServer.RstStreams, toServer.RstCodes, toServer.Goaways)
	note("frames from the server: %d PING ACKs, %d PINGs, %d SETTINGS, GOAWAYs %v; connections %d",
		toClient.PingAcks, toClient.Pings, toClient.Settings, toClient.Goaways, connections)
	check("grpc-go's BDP estimator pinged and every PING was answered", toServer.Pings > 0 && toClient.PingAcks == toServer.Pings, toServer.Pings, toClient.PingAcks)
	check("grpc-go resized its windows (a SETTINGS after its first)", toServer.Settings >= 2, toServer.Settings)
	check("the server sent no GOAWAY and the ClientConn kept one connection", len(toClient.Goaways) == 0 && connections == 1, toClient.Goaways, connections)
}

// runCancellation cancels a server stream mid-flight and unary calls under load, and checks that
// the calls beside them on the same ClientConn go on.
func runCancellation(conn *grpc.ClientConn, cfg *config, baseline uint64) {
	diag := diagnostics.NewDiagnosticsClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := diag.PingStream(ctx, &diagnostics.PingStreamRequest{Count: 10000000, Payload: make([]byte, 1024)})
	got := 0
	if err == nil {
		for got < 500 {
			if _, err = ps.Recv(); err != nil {
				break
			}
			got++
		}
	}
	cancel()
	// Messages already received may still be handed out; then the stream ends with the cancel.
	for err == nil {
		_, err = ps.Recv()
	}
	check("a PingStream cancelled after 500 of 10,000,000 messages ends CANCELLED", codeOf(err) == codes.Canceled, got, err)
	waitUntil("the server ends the cancelled stream", 3*time.Second, func() bool { return serverStats(conn).ActiveCalls <= baseline })

	// 64 goroutines, 40 calls each: Pings that take 0-20 ms, every other one cancelled at a random
	// moment, and queries beside them that must all answer.
	var wg sync.WaitGroup
	var cancelled, answered, wrong int64
	var mu sync.Mutex
	odd := map[string]int{}
	t0 := time.Now()
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 40; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if i%2 == 0 {
					go func(d time.Duration) { time.Sleep(d); cancel() }(time.Duration(r.Intn(15000)) * time.Microsecond)
					_, err := diag.Ping(ctx, &diagnostics.PingRequest{DelayMillis: uint32(r.Intn(20))})
					if codeOf(err) == codes.Canceled || err == nil {
						atomic.AddInt64(&cancelled, 1)
					} else {
						mu.Lock()
						odd[fmt.Sprint(codeOf(err), ": ", status.Convert(err).Message())]++
						mu.Unlock()
					}
				} else {
					res, err := diag.Ping(ctx, &diagnostics.PingRequest{Payload: []byte{byte(g), byte(i)}, DelayMillis: uint32(r.Intn(5))})
					cancel()
					if err == nil && bytes.Equal(res.Payload, []byte{byte(g), byte(i)}) {
						atomic.AddInt64(&answered, 1)
					} else {
						atomic.AddInt64(&wrong, 1)
						mu.Lock()
						odd["neighbour: "+fmt.Sprint(codeOf(err), ": ", status.Convert(err).Message())]++
						mu.Unlock()
					}
				}
			}
		}(g)
	}
	wg.Wait()
	check(fmt.Sprintf("1280 calls cancelled at random beside 1280 that are not: every neighbour answered (%.1f s)", time.Since(t0).Seconds()),
		answered == 1280 && wrong == 0 && len(odd) == 0, answered, wrong, odd)
	waitUntil("the server holds no call but ours afterwards", 3*time.Second, func() bool { return serverStats(conn).ActiveCalls <= baseline })
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	_, err = api.NewQueryServiceClient(conn).GetAccountsByUser(as(ctx, cfg.aliceToken), &broker_account.GetAccountsByUser{UserId: cfg.alice})
	cancel()
	check("the ClientConn still serves queries", err == nil, err)
	if st := strings.TrimSpace(conn.GetState().String()); st != "READY" {
		check("the ClientConn stays READY", false, st)
	}
}
