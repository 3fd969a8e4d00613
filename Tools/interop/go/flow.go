package main

// The seed's flow end to end through grpc-go stubs generated from Schemas/*.proto, as
// Tools/interop/java/Flow.java and e2e_grpcio.py run it: a broker connection by OAuth and by API
// key, the accounts the onboarding saga links, an automation, an order the execution saga places
// and the virtual broker fills, a subscriber interrupted and resumed after its last position; the
// API's errors read with grpc-go's status.FromError and Status.Details.

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"tradecore/gen/api"
	"tradecore/gen/automation"
	"tradecore/gen/broker_account"
	"tradecore/gen/broker_connection"
	"tradecore/gen/common"
	"tradecore/gen/events"
	"tradecore/gen/order"
)

// What the flow leaves for the later checks.
type flowState struct {
	cash      []byte // alice's cash account
	lastWrite uint64 // the position of the flow's last command
}

func runFlow(conn *grpc.ClientConn, cfg *config) *flowState {
	cmd := api.NewCommandServiceClient(conn)
	qry := api.NewQueryServiceClient(conn)
	ev := api.NewEventStreamServiceClient(conn)
	tokens := cfg.serviceToken != ""
	A, B := cfg.alice, cfg.bob
	aTok, bTok, sTok := cfg.aliceToken, cfg.bobToken, cfg.serviceToken
	callA := func() (context.Context, context.CancelFunc) { return within(aTok, 10*time.Second) }
	callB := func() (context.Context, context.CancelFunc) { return within(bTok, 10*time.Second) }
	callS := func() (context.Context, context.CancelFunc) { return within(sTok, 10*time.Second) }

	if tokens {
		section("authentication")
		ctx, cancel := within("", 5*time.Second)
		_, err := qry.GetAccountsByUser(ctx, &broker_account.GetAccountsByUser{UserId: A})
		cancel()
		r := expectCode("no token is UNAUTHENTICATED", codes.Unauthenticated, err)
		note("%s", r)
		ctx, cancel = within("not-a-token-we-know", 5*time.Second)
		_, err = qry.GetAccountsByUser(ctx, &broker_account.GetAccountsByUser{UserId: A})
		cancel()
		expectCode("a wrong token is UNAUTHENTICATED", codes.Unauthenticated, err)
	}

	// A subscriber from the start of the log, interrupted in the middle of the flow; and alice's own
	// view, which must hold only her events.
	first := subscribe("first", ev, sTok, subscribeRequest(nil, 200))
	var aliceView *subscriber
	if tokens {
		aliceView = subscribe("alice", ev, aTok, subscribeRequest(nil, 200))
	}

	section("connect the virtual broker through OAuth (alice)")
	ctx, cancel := callA()
	init, err := cmd.InitiateBrokerConnection(ctx, &broker_connection.InitiateBrokerConnection{UserId: A, BrokerId: "virtual"})
	cancel()
	if !check("InitiateBrokerConnection answers", err == nil, err) {
		return nil
	}
	check("the connection waits for OAuth", init.Status == broker_connection.BrokerConnectionStatus_BROKER_CONNECTION_STATUS_AWAITING_OAUTH, init)
	check("with an authorization URL carrying the state", init.OauthState != "" && strings.Contains(init.AuthorizationUrl, init.OauthState), init.AuthorizationUrl)
	ctx, cancel = callA()
	_, err = cmd.CompleteOAuth(ctx, &broker_connection.CompleteOAuth{BrokerConnectionId: init.BrokerConnectionId, UserId: A, AuthorizationCode: "code", State: "forged-state"})
	cancel()
	note("%s", expectCode("a wrong OAuth state is INVALID_ARGUMENT", codes.InvalidArgument, err))
	code := "alice-code-" + uuidString(A)
	ctx, cancel = callA()
	completed, err := cmd.CompleteOAuth(ctx, &broker_connection.CompleteOAuth{BrokerConnectionId: init.BrokerConnectionId, UserId: A, AuthorizationCode: code, State: init.OauthState})
	cancel()
	check("CompleteOAuth connects it", err == nil && completed.Status == broker_connection.BrokerConnectionStatus_BROKER_CONNECTION_STATUS_CONNECTED, completed, err)
	ctx, cancel = callA()
	_, err = cmd.CompleteOAuth(ctx, &broker_connection.CompleteOAuth{BrokerConnectionId: init.BrokerConnectionId, UserId: A, AuthorizationCode: code, State: init.OauthState})
	cancel()
	expectCode("the state is single-use (FAILED_PRECONDITION)", codes.FailedPrecondition, err)

	section("connect the virtual broker with an API key (bob)")
	ctx, cancel = callB()
	bobInit, err := cmd.InitiateBrokerConnection(ctx, &broker_connection.InitiateBrokerConnection{UserId: B, BrokerId: "virtual",
		AuthMethod:        broker_connection.AuthMethod_AUTH_METHOD_API_KEY,
		ApiKeyCredentials: &broker_connection.ApiKeyCredentials{ApiKey: "vbk_bob_" + uuidString(B)[:8], ApiSecret: "s3cret"}})
	cancel()
	check("an API key connects at once", err == nil && bobInit.Status == broker_connection.BrokerConnectionStatus_BROKER_CONNECTION_STATUS_CONNECTED, bobInit, err)

	section("the onboarding saga links and refreshes the accounts")
	var accounts []*broker_account.BrokerAccountView
	if !waitUntil("two accounts linked and refreshed", 20*time.Second, func() bool {
		ctx, cancel := callA()
		defer cancel()
		l, err := qry.GetAccountsByUser(ctx, &broker_account.GetAccountsByUser{UserId: A})
		if err != nil {
			return false
		}
		for _, a := range l.Accounts {
			if a.LastSyncedAt == 0 {
				return false
			}
		}
		accounts = l.Accounts
		return len(accounts) == 2
	}) {
		return nil
	}
	cash := accounts[0]
	for _, a := range accounts {
		if strings.HasSuffix(a.BrokerAccountNumber, "-C") {
			cash = a
		}
	}
	check("the cash account has its balance", cash.Cash == "100000", cash.Cash)
	ctx, cancel = callA()
	found, err := qry.FindBrokerConnection(ctx, &broker_connection.FindBrokerConnection{UserId: A, BrokerId: "virtual"})
	cancel()
	check("FindBrokerConnection finds it", err == nil && bytes.Equal(found.BrokerConnectionId, init.BrokerConnectionId), err)

	section("automation")
	ctx, cancel = callA()
	auto, err := cmd.CreateAutomation(ctx, &automation.CreateAutomation{UserId: A, Name: "Breakout", Symbol: "AAPL",
		PositionSizing: &automation.PositionSizing{Method: automation.PositionSizingMethod_POSITION_SIZING_METHOD_FIXED_QUANTITY, Value: "10"},
		AccountIds:     [][]byte{cash.AccountId}, AssetType: common.AssetType_ASSET_TYPE_STOCK, AutoSubmit: true})
	cancel()
	if !check("CreateAutomation answers", err == nil, err) {
		return nil
	}
	check("it starts inactive", auto.Status == automation.AutomationStatus_AUTOMATION_STATUS_INACTIVE, auto)
	check("with a webhook token", strings.HasPrefix(auto.WebhookToken, "whk_"), auto.WebhookToken)
	ctx, cancel = callA()
	act, err := cmd.ActivateAutomation(ctx, &automation.ActivateAutomation{AutomationId: auto.AutomationId, UserId: A})
	cancel()
	check("ActivateAutomation activates it", err == nil && act.Status == automation.AutomationStatus_AUTOMATION_STATUS_ACTIVE, act, err)

	section("an order, submitted by the saga and filled by the virtual broker")
	ctx, cancel = callA()
	created, err := cmd.CreateOrder(ctx, &order.CreateOrder{UserId: A, AutomationId: auto.AutomationId, AccountId: cash.AccountId,
		Symbol: "AAPL", Side: common.OrderSide_ORDER_SIDE_BUY, Quantity: "150", OrderType: common.OrderType_ORDER_TYPE_MARKET, AutoSubmit: true})
	cancel()
	if !check("CreateOrder answers", err == nil, err) {
		return nil
	}
	check("the order is created pending", created.Status == order.OrderStatus_ORDER_STATUS_PENDING, created)
	check("its result carries its commit's position", created.Position > 0)
	ctx, cancel = callA()
	seen, err := qry.GetOrder(ctx, &order.GetOrder{OrderId: created.OrderId, UserId: A, MinPosition: created.Position})
	cancel()
	check("a query with that min_position sees it", err == nil && bytes.Equal(seen.OrderId, created.OrderId), err)

	// Interrupt the first subscriber mid-flow and resume after the last position it saw.
	firstEnd := first.stop()
	check("a cancelled Subscribe ends with CANCELLED on the client", codeOf(firstEnd) == codes.Canceled, firstEnd)
	resumeAfter := first.lastPosition()
	resumed := subscribe("resumed", ev, sTok, subscribeRequest(&resumeAfter, 200))

	var filled *order.OrderView
	waitUntil("the order is filled", 20*time.Second, func() bool {
		ctx, cancel := callA()
		defer cancel()
		v, err := qry.GetOrder(ctx, &order.GetOrder{OrderId: created.OrderId, UserId: A})
		if err == nil && v.Status == order.OrderStatus_ORDER_STATUS_FILLED {
			filled = v
			return true
		}
		return false
	})
	if filled != nil {
		var q []string
		for _, f := range filled.Fills {
			q = append(q, f.Quantity)
		}
		check("filled in two parts, 100 then 50", reflect.DeepEqual(q, []string{"100", "50"}), q)
		check("with its broker's order id", strings.HasPrefix(filled.BrokerOrderId, "VB-"), filled.BrokerOrderId)
		check("at an exact average price", filled.AverageFillPrice != "", filled.AverageFillPrice)
	}

	section("invalid commands: status.FromError and Status.Details")
	bad := func(name, wantReason string, wantFields []string, mutate func(o *order.CreateOrder)) richStatus {
		o := &order.CreateOrder{UserId: A, AccountId: cash.AccountId, Symbol: "AAPL", Side: common.OrderSide_ORDER_SIDE_BUY,
			Quantity: "5", OrderType: common.OrderType_ORDER_TYPE_MARKET}
		mutate(o)
		ctx, cancel := callA()
		defer cancel()
		_, err := cmd.CreateOrder(ctx, o)
		r := expectCode(name+" is INVALID_ARGUMENT", codes.InvalidArgument, err)
		note("%s", r)
		if r.st != nil {
			check("  ... with ErrorInfo (domain tradecore) in Details()", r.info != nil && r.info.Domain == "tradecore", r)
			if wantReason != "" {
				check("  ... reason "+wantReason, r.reason() == wantReason, r.reason())
			}
			if wantFields != nil {
				check(fmt.Sprintf("  ... BadRequest naming %v", wantFields), reflect.DeepEqual(r.fields(), wantFields), r.fields())
			}
			check("  ... every detail decodes", len(r.undecoded) == 0, r.undecoded)
		}
		return r
	}
	r := bad("quantity 0 on a limit order", "", nil, func(o *order.CreateOrder) {
		o.Quantity, o.OrderType = "0", common.OrderType_ORDER_TYPE_LIMIT
	})
	if r.st != nil {
		hasQuantity := false
		for _, f := range r.fields() {
			hasQuantity = hasQuantity || f == "quantity"
		}
		check("  ... a field violation on quantity", hasQuantity, r.fields())
		check("  ... the google.rpc.Status code is 3", r.st.Proto().GetCode() == 3, r.st.Proto().GetCode())
	}
	bad("a limit order without a limit price", "", []string{"limit_price"}, func(o *order.CreateOrder) { o.OrderType = common.OrderType_ORDER_TYPE_LIMIT })
	bad("a lowercase symbol", "", nil, func(o *order.CreateOrder) { o.Symbol = "aapl" })
	bad("a non-canonical decimal", "MALFORMED_REQUEST", []string{"quantity"}, func(o *order.CreateOrder) { o.Quantity = "1.50" })
	bad("a 15-byte user id", "", nil, func(o *order.CreateOrder) { o.UserId = A[1:] })
	bad("an unknown enum number", "", nil, func(o *order.CreateOrder) { o.Side = common.OrderSide(9) })
	ctx, cancel = callA()
	_, err = cmd.CreateOrder(ctx, &order.CreateOrder{})
	cancel()
	note("%s", expectCode("an empty CreateOrder is INVALID_ARGUMENT", codes.InvalidArgument, err))

	if tokens {
		section("other users")
		ctx, cancel = callB()
		_, err = qry.GetOrder(ctx, &order.GetOrder{OrderId: created.OrderId, UserId: B})
		cancel()
		note("%s", expectCode("bob cannot read alice's order", codes.PermissionDenied, err))
		ctx, cancel = callB()
		_, err = qry.GetOrder(ctx, &order.GetOrder{OrderId: created.OrderId, UserId: A})
		cancel()
		expectCode("bob cannot act as alice", codes.PermissionDenied, err)
		ctx, cancel = callB()
		_, err = cmd.CancelOrder(ctx, &order.CancelOrder{OrderId: created.OrderId, UserId: B})
		cancel()
		expectCode("bob cannot cancel alice's order", codes.PermissionDenied, err)
	}
	ctx, cancel = callA()
	_, err = qry.GetOrder(ctx, &order.GetOrder{OrderId: newUUID(), UserId: A})
	cancel()
	r = expectCode("an unknown order is NOT_FOUND", codes.NotFound, err)
	check("  ... reason ORDER_NOT_FOUND", r.reason() == "ORDER_NOT_FOUND", r)

	section("expected versions")
	ctx, cancel = callA()
	working, err := cmd.CreateOrder(ctx, &order.CreateOrder{UserId: A, AccountId: cash.AccountId, Symbol: "MSFT", Side: common.OrderSide_ORDER_SIDE_BUY,
		Quantity: "5", OrderType: common.OrderType_ORDER_TYPE_LIMIT, LimitPrice: "100"})
	cancel()
	if !check("a working limit order", err == nil, err) {
		return nil
	}
	ctx, cancel = callA()
	updated, err := cmd.UpdateOrder(ctx, &order.UpdateOrder{OrderId: working.OrderId, UserId: A, LimitPrice: "101", ExpectedVersion: u64(0)})
	cancel()
	check("an update at the version read goes through", err == nil && updated.Version == 1, updated, err)
	ctx, cancel = callA()
	_, err = cmd.UpdateOrder(ctx, &order.UpdateOrder{OrderId: working.OrderId, UserId: A, LimitPrice: "102", ExpectedVersion: u64(0)})
	cancel()
	r = expectCode("an update at a stale version is ABORTED", codes.Aborted, err)
	note("%s", r)
	check("  ... ErrorInfo VERSION_CONFLICT with expected_version 0 and current_version 1", r.info != nil && r.info.Reason == "VERSION_CONFLICT" &&
		r.info.Metadata["expected_version"] == "0" && r.info.Metadata["current_version"] == "1", r)

	section("a repeated command id")
	cid := uuidString(newUUID())
	req := &order.CreateOrder{UserId: A, AccountId: cash.AccountId, Symbol: "TSLA", Side: common.OrderSide_ORDER_SIDE_SELL,
		Quantity: "3", OrderType: common.OrderType_ORDER_TYPE_STOP, StopPrice: "200"}
	withID := func(id string) (context.Context, context.CancelFunc) {
		ctx, cancel := callA()
		return metadataAppend(ctx, "tradecore-command-id", id), cancel
	}
	ctx, cancel = withID(cid)
	once, err1 := cmd.CreateOrder(ctx, req)
	cancel()
	ctx, cancel = withID(cid)
	twice, err2 := cmd.CreateOrder(ctx, req)
	cancel()
	check("sent twice, it returns the first result", err1 == nil && err2 == nil && proto.Equal(once, twice), once, twice, err1, err2)
	if err2 == nil {
		ctx, cancel = callA()
		listed, err := qry.ListOrders(ctx, &order.ListOrders{UserId: A, MinPosition: twice.Position})
		cancel()
		n := 0
		if err == nil {
			for _, o := range listed.Orders {
				if o.Symbol == "TSLA" {
					n++
				}
			}
		}
		check("and created one order", n == 1, n, err)
	}
	other := proto.Clone(req).(*order.CreateOrder)
	other.Quantity = "4"
	ctx, cancel = withID(cid)
	_, err = cmd.CreateOrder(ctx, other)
	cancel()
	r = expectCode("the id with another order is INVALID_ARGUMENT", codes.InvalidArgument, err)
	check("  ... reason COMMAND_ID_REUSED", r.reason() == "COMMAND_ID_REUSED", r)
	ctx, cancel = withID("not-a-uuid")
	_, err = cmd.CreateOrder(ctx, req)
	cancel()
	note("%s", expectCode("a command id that is not a UUID is INVALID_ARGUMENT", codes.InvalidArgument, err))

	section("cancel")
	ctx, cancel = callA()
	cancelled, err := cmd.CancelOrder(ctx, &order.CancelOrder{OrderId: working.OrderId, UserId: A, Reason: "changed my mind"})
	cancel()
	if !check("CancelOrder cancels a working order", err == nil && cancelled.Status == order.OrderStatus_ORDER_STATUS_CANCELLED, cancelled, err) {
		return nil
	}
	ctx, cancel = callA()
	cv, err := qry.GetOrder(ctx, &order.GetOrder{OrderId: working.OrderId, UserId: A, MinPosition: cancelled.Position})
	cancel()
	check("GetOrder at its position shows it cancelled with the reason", err == nil && cv.Status == order.OrderStatus_ORDER_STATUS_CANCELLED && cv.StatusReason == "changed my mind", cv, err)
	ctx, cancel = callA()
	_, err = cmd.CancelOrder(ctx, &order.CancelOrder{OrderId: created.OrderId, UserId: A})
	cancel()
	expectCode("cancelling a filled order is FAILED_PRECONDITION", codes.FailedPrecondition, err)

	section("positions and deadlines")
	head := cancelled.Position
	ctx, cancel = callA()
	_, err = qry.GetOrder(ctx, &order.GetOrder{OrderId: working.OrderId, UserId: A, MinPosition: head + 1000000})
	cancel()
	r = expectCode("a min_position past the log is OUT_OF_RANGE", codes.OutOfRange, err)
	check("  ... reason POSITION_NOT_COMMITTED", r.reason() == "POSITION_NOT_COMMITTED", r)
	// grpc-go fails a call whose deadline has already passed before sending anything.
	ctx, cancel = context.WithTimeout(as(context.Background(), aTok), -time.Millisecond)
	_, err = qry.GetOrder(ctx, &order.GetOrder{OrderId: working.OrderId, UserId: A})
	cancel()
	expectCode("an expired deadline at send time is DEADLINE_EXCEEDED", codes.DeadlineExceeded, err)
	ctx, cancel = within(aTok, 300*time.Millisecond)
	ok, err := qry.GetOrder(ctx, &order.GetOrder{OrderId: working.OrderId, UserId: A, MinPosition: head})
	cancel()
	check("a 300 ms deadline on a reached min_position succeeds (grpc-timeout as grpc-go writes it)", err == nil && bytes.Equal(ok.OrderId, working.OrderId), err)

	section("the event stream")
	lastWrite := head
	if twice != nil && twice.Position > lastWrite {
		lastWrite = twice.Position
	}
	waitUntil("the resumed subscriber reaches the last write", 20*time.Second, func() bool { return resumed.reached(lastWrite) })
	time.Sleep(500 * time.Millisecond)
	rs := resumed.stop()
	check("the resumed subscriber ends with CANCELLED after cancel()", codeOf(rs) == codes.Canceled, rs)
	firstEvents, _, firstCaught := first.snapshot()
	resumedEvents, resumedCps, resumedCaught := resumed.snapshot()
	all := append(firstEvents, resumedEvents...)
	contiguous := len(all) > 0
	for i := 1; i < len(all); i++ {
		if all[i].GlobalPosition != all[i-1].GlobalPosition+1 {
			contiguous = false
		}
	}
	if tokens && len(all) > 0 && all[0].GlobalPosition != 1 {
		contiguous = false
	}
	check("the subscriber saw every position exactly once and in order", contiguous && all[len(all)-1].GlobalPosition >= lastWrite,
		fmt.Sprintf("first %d then %d, resumed after %d, last write %d", len(firstEvents), len(resumedEvents), resumeAfter, lastWrite))
	check("it was told when it caught up", firstCaught >= 1 && resumedCaught >= 1, firstCaught, resumedCaught)
	check("an idle subscriber gets checkpoints", len(resumedCps) >= 1)
	types := map[string]bool{}
	for _, e := range all {
		types[e.EventType] = true
	}
	for _, t := range []string{"BrokerConnectionInitiated", "BrokerOAuthStarted", "BrokerConnectionEstablished", "BrokerAccountLinked",
		"BrokerAccountDataRefreshed", "AllAccountsRefreshCompleted", "AutomationCreated", "AutomationActivated", "OrderCreated",
		"OrderPlaced", "FillAdded", "OrderFilled", "OrderCancelled"} {
		check("the stream carries "+t, types[t])
	}
	// Every payload but the sagas' JSON decodes with the generated Go type its event_type names.
	decoded, undecodable := 0, []string{}
	for _, e := range all {
		m := eventMessage(e.EventType)
		if m == nil {
			continue
		}
		if err := proto.Unmarshal(e.Payload, m); err != nil {
			undecodable = append(undecodable, e.EventType+": "+err.Error())
		} else {
			decoded++
		}
	}
	check("event payloads decode with the generated Go types", decoded > 0 && len(undecodable) == 0, decoded, undecodable)
	oStream := "order-" + uuidString(created.OrderId)
	var orderEvents []string
	for _, e := range all {
		if e.Stream == oStream {
			orderEvents = append(orderEvents, fmt.Sprintf("%s@%d/v%d", e.EventType, e.GlobalPosition, e.Version))
		}
	}
	note("the order's events: %v", orderEvents)
	check("the order's events in order: created, placed, fills, filled", len(orderEvents) >= 4 &&
		strings.HasPrefix(orderEvents[0], "OrderCreated@") && strings.HasPrefix(orderEvents[1], "OrderPlaced@") &&
		strings.HasPrefix(orderEvents[len(orderEvents)-1], "OrderFilled@"), orderEvents)
	if aliceView != nil {
		aliceView.stop()
		evs, _, _ := aliceView.snapshot()
		foreign, sagas := 0, 0
		for _, e := range evs {
			if !bytes.Equal(e.Metadata.GetUserId(), A) {
				foreign++
			}
			if e.StreamType == "saga" {
				sagas++
			}
		}
		check("a user's subscription sees only its own events, no saga bookkeeping", len(evs) > 0 && foreign == 0 && sagas == 0, len(evs), foreign, sagas)
	}
	ctx, cancel = callS()
	read, err := ev.ReadStream(ctx, &events.ReadStreamRequest{Stream: oStream})
	cancel()
	check("ReadStream reads the order's stream", err == nil && len(read.Events) >= 2 && read.Events[0].EventType == "OrderCreated" &&
		read.Events[1].EventType == "OrderPlaced" && read.EndOfStream, err)

	section("subscription variants")
	sv := subscribe("sv", ev, sTok, &events.SubscribeRequest{
		Start:                &events.SubscribeRequest_AfterStreamVersion{AfterStreamVersion: &events.StreamVersion{Stream: oStream, Version: 0}},
		Filter:               &events.SubscriptionFilter{Streams: []string{oStream}},
		CheckpointIntervalMs: 100})
	waitUntil("after_stream_version catches up", 10*time.Second, func() bool {
		_, _, c := sv.snapshot()
		return c > 0 || sv.ended()
	})
	sv.stop()
	svEvents, _, _ := sv.snapshot()
	onlyThat := len(svEvents) > 0 && svEvents[0].Version == 1
	for _, e := range svEvents {
		onlyThat = onlyThat && e.Stream == oStream
	}
	check("after_stream_version 0 delivers versions 1.. of that stream only", onlyThat, len(svEvents))
	badFilter := subscribe("bad1", ev, sTok, &events.SubscribeRequest{Filter: &events.SubscriptionFilter{StreamTypes: []string{"orders"}, EventTypes: []string{"OrderExploded"}}})
	note("%s", expectCode("an unknown stream type / event type is INVALID_ARGUMENT", codes.InvalidArgument, badFilter.wait(5*time.Second)))
	past := head + 1000000
	pastHead := subscribe("bad2", ev, sTok, subscribeRequest(&past, 200))
	note("%s", expectCode("a start past the head is OUT_OF_RANGE", codes.OutOfRange, pastHead.wait(5*time.Second)))
	pastEnd := subscribe("bad3", ev, sTok, &events.SubscribeRequest{
		Start:  &events.SubscribeRequest_AfterStreamVersion{AfterStreamVersion: &events.StreamVersion{Stream: oStream, Version: 99}},
		Filter: &events.SubscriptionFilter{Streams: []string{oStream}}})
	expectCode("a start after the end of a stream is OUT_OF_RANGE", codes.OutOfRange, pastEnd.wait(5*time.Second))

	return &flowState{cash: cash.AccountId, lastWrite: lastWrite}
}

// eventMessage is the generated type an event_type names (nil for types the flow does not decode).
func eventMessage(eventType string) proto.Message {
	switch eventType {
	case "OrderCreated":
		return &order.OrderCreated{}
	case "OrderPlaced":
		return &order.OrderPlaced{}
	case "FillAdded":
		return &order.FillAdded{}
	case "OrderFilled":
		return &order.OrderFilled{}
	case "OrderCancelled":
		return &order.OrderCancelled{}
	case "OrderUpdated":
		return &order.OrderUpdated{}
	case "AutomationCreated":
		return &automation.AutomationCreated{}
	case "AutomationActivated":
		return &automation.AutomationActivated{}
	case "BrokerAccountLinked":
		return &broker_account.BrokerAccountLinked{}
	case "BrokerAccountDataRefreshed":
		return &broker_account.BrokerAccountDataRefreshed{}
	case "BrokerConnectionInitiated":
		return &broker_connection.BrokerConnectionInitiated{}
	case "BrokerConnectionEstablished":
		return &broker_connection.BrokerConnectionEstablished{}
	}
	return nil
}
