package interop;

import static interop.Util.*;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.util.*;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import tradecore.api.v1.CommandServiceGrpc;
import tradecore.api.v1.EventStreamServiceGrpc;
import tradecore.api.v1.QueryServiceGrpc;
import tradecore.automation.v1.Automation.*;
import tradecore.broker.v1.BrokerAccount.*;
import tradecore.broker.v1.BrokerConnection.*;
import tradecore.common.v1.Common.*;
import tradecore.events.v1.Events.*;
import tradecore.order.v1.Order.*;

/**
 * The seed's flow end to end with grpc-java (Netty) stubs generated from Schemas/*.proto: a broker
 * connection by OAuth and by API key, accounts, an automation, an order the saga places and the
 * virtual broker fills, seen by a subscriber resumed midway; error details read with
 * StatusProto; expected versions, command ids, paging, cancellation and the stream's variants.
 * Usage: Flow HOST:PORT [SERVICE_TOKEN ALICE_UUID:TOKEN BOB_UUID:TOKEN]
 */
public final class Flow {
    static CommandServiceGrpc.CommandServiceBlockingStub cmd;
    static QueryServiceGrpc.QueryServiceBlockingStub qry;
    static EventStreamServiceGrpc.EventStreamServiceStub evAsync;
    static EventStreamServiceGrpc.EventStreamServiceBlockingStub ev;

    public static void main(String[] args) throws Exception {
        String target = args[0];
        boolean tokens = args.length >= 4;
        String service = tokens ? args[1] : null;
        UUID alice = tokens ? UUID.fromString(args[2].split(":", 2)[0]) : UUID.randomUUID();
        String aliceTok = tokens ? args[2].split(":", 2)[1] : null;
        UUID bob = tokens ? UUID.fromString(args[3].split(":", 2)[0]) : UUID.randomUUID();
        String bobTok = tokens ? args[3].split(":", 2)[1] : null;
        ByteString A = uuid(alice), B = uuid(bob);

        // Plain h2c: Debian's Netty has no ALPN of its own (TLS would need netty-tcnative); grpcio's
        // interop covers TLS.
        ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
        cmd = CommandServiceGrpc.newBlockingStub(channel);
        qry = QueryServiceGrpc.newBlockingStub(channel);
        evAsync = EventStreamServiceGrpc.newStub(channel);
        ev = EventStreamServiceGrpc.newBlockingStub(channel);
        System.out.println("grpc-java " + io.grpc.ManagedChannelProvider.class.getPackage().getImplementationVersion()
            + " (" + channel.getClass().getName() + ") against " + target + (tokens ? " with tokens" : " open"));

        var cA = as(cmd, aliceTok).withDeadlineAfter(60, TimeUnit.SECONDS);
        var qA = as(qry, aliceTok);
        var cB = as(cmd, bobTok);
        var qB = as(qry, bobTok);

        if (tokens) {
            System.out.println("authentication");
            StatusRuntimeException e = expectError("no token is UNAUTHENTICATED", Status.Code.UNAUTHENTICATED,
                () -> qry.withDeadlineAfter(5, TimeUnit.SECONDS).getAccountsByUser(GetAccountsByUser.newBuilder().setUserId(A).build()));
            if (e != null) System.out.println("        (" + e.getStatus() + " / " + rich(e) + ")");
            expectError("a wrong token is UNAUTHENTICATED", Status.Code.UNAUTHENTICATED,
                () -> as(qry, "not-a-token-we-know").withDeadlineAfter(5, TimeUnit.SECONDS).getAccountsByUser(GetAccountsByUser.newBuilder().setUserId(A).build()));
        }

        Subscriber first = new Subscriber("first", as(evAsync, service), Subscriber.request(null, 200).build());
        Subscriber aliceView = tokens ? new Subscriber("alice", as(evAsync, aliceTok), Subscriber.request(null, 200).build()) : null;

        System.out.println("connect the virtual broker through OAuth (alice)");
        InitiateBrokerConnectionResult init = cA.initiateBrokerConnection(InitiateBrokerConnection.newBuilder()
            .setUserId(A).setBrokerId("virtual").build());
        check("the connection waits for OAuth", init.getStatus() == BrokerConnectionStatus.BROKER_CONNECTION_STATUS_AWAITING_OAUTH, init);
        check("with an authorization URL carrying the state", !init.getOauthState().isEmpty() && init.getAuthorizationUrl().contains(init.getOauthState()), init.getAuthorizationUrl());
        StatusRuntimeException e = expectError("a wrong OAuth state is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT,
            () -> cA.completeOAuth(CompleteOAuth.newBuilder().setBrokerConnectionId(init.getBrokerConnectionId()).setUserId(A)
                .setAuthorizationCode("code").setState("forged-state").build()));
        if (e != null) System.out.println("        " + rich(e));
        String code = "alice-code-" + alice;
        BrokerConnectionResult completed = cA.completeOAuth(CompleteOAuth.newBuilder().setBrokerConnectionId(init.getBrokerConnectionId())
            .setUserId(A).setAuthorizationCode(code).setState(init.getOauthState()).build());
        check("CompleteOAuth connects it", completed.getStatus() == BrokerConnectionStatus.BROKER_CONNECTION_STATUS_CONNECTED, completed);
        e = expectError("the state is single-use", Status.Code.FAILED_PRECONDITION,
            () -> cA.completeOAuth(CompleteOAuth.newBuilder().setBrokerConnectionId(init.getBrokerConnectionId()).setUserId(A)
                .setAuthorizationCode(code).setState(init.getOauthState()).build()));
        if (e != null) System.out.println("        " + rich(e));

        System.out.println("connect the virtual broker with an API key (bob)");
        InitiateBrokerConnectionResult bobInit = cB.initiateBrokerConnection(InitiateBrokerConnection.newBuilder()
            .setUserId(B).setBrokerId("virtual").setAuthMethod(AuthMethod.AUTH_METHOD_API_KEY)
            .setApiKeyCredentials(ApiKeyCredentials.newBuilder().setApiKey("vbk_bob_" + bob.toString().substring(0, 8)).setApiSecret("s3cret")).build());
        check("an API key connects at once", bobInit.getStatus() == BrokerConnectionStatus.BROKER_CONNECTION_STATUS_CONNECTED, bobInit);
        InitiateBrokerConnectionResult bad = as(cmd, service).initiateBrokerConnection(InitiateBrokerConnection.newBuilder()
            .setUserId(uuid(UUID.randomUUID())).setBrokerId("virtual").setAuthMethod(AuthMethod.AUTH_METHOD_API_KEY)
            .setApiKeyCredentials(ApiKeyCredentials.newBuilder().setApiKey("nope_12345678").setApiSecret("x")).build());
        check("a key the broker refuses gives FAILED with a reason", bad.getStatus() == BrokerConnectionStatus.BROKER_CONNECTION_STATUS_FAILED
            && !bad.getStatusReason().isEmpty(), bad);

        System.out.println("the onboarding saga links and refreshes the accounts");
        List<BrokerAccountView> accounts = waitUntil("two accounts linked and refreshed", () -> {
            List<BrokerAccountView> l = qA.withDeadlineAfter(5, TimeUnit.SECONDS).getAccountsByUser(GetAccountsByUser.newBuilder().setUserId(A).build()).getAccountsList();
            return l.size() == 2 && l.stream().allMatch(a -> a.getLastSyncedAt() > 0) ? l : null;
        }, 20);
        if (accounts == null) { finish(channel); return; }
        BrokerAccountView cash = accounts.stream().filter(a -> a.getBrokerAccountNumber().endsWith("-C")).findFirst().orElse(accounts.get(0));
        check("the cash account has its balance", cash.getCash().equals("100000"), cash.getCash());
        BrokerConnectionView found = qA.findBrokerConnection(FindBrokerConnection.newBuilder().setUserId(A).setBrokerId("virtual").build());
        check("FindBrokerConnection finds it", found.getBrokerConnectionId().equals(init.getBrokerConnectionId()));
        List<BrokerAccountView> bobAccounts = waitUntil("bob's accounts linked", () -> {
            List<BrokerAccountView> l = qB.getAccountsByUser(GetAccountsByUser.newBuilder().setUserId(B).build()).getAccountsList();
            return l.size() == 2 ? l : null;
        }, 20);

        System.out.println("automation");
        CreateAutomationResult auto = cA.createAutomation(CreateAutomation.newBuilder().setUserId(A).setName("Breakout").setSymbol("AAPL")
            .setPositionSizing(PositionSizing.newBuilder().setMethod(PositionSizingMethod.POSITION_SIZING_METHOD_FIXED_QUANTITY).setValue("10"))
            .addAccountIds(cash.getAccountId()).setAssetType(AssetType.ASSET_TYPE_STOCK).setAutoSubmit(true).build());
        check("it starts inactive", auto.getStatus() == AutomationStatus.AUTOMATION_STATUS_INACTIVE, auto);
        check("with a webhook token", auto.getWebhookToken().startsWith("whk_"), auto.getWebhookToken());
        AutomationResult act = cA.activateAutomation(ActivateAutomation.newBuilder().setAutomationId(auto.getAutomationId()).setUserId(A).build());
        check("ActivateAutomation activates it", act.getStatus() == AutomationStatus.AUTOMATION_STATUS_ACTIVE, act);

        System.out.println("an order, submitted by the saga and filled by the virtual broker");
        OrderResult created = cA.createOrder(CreateOrder.newBuilder().setUserId(A).setAutomationId(auto.getAutomationId())
            .setAccountId(cash.getAccountId()).setSymbol("AAPL").setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("150")
            .setOrderType(OrderType.ORDER_TYPE_MARKET).setAutoSubmit(true).build());
        check("the order is created pending", created.getStatus() == OrderStatus.ORDER_STATUS_PENDING, created);
        check("its result carries its commit's position", created.getPosition() > 0);
        OrderView seen = qA.withDeadlineAfter(10, TimeUnit.SECONDS).getOrder(GetOrder.newBuilder().setOrderId(created.getOrderId()).setUserId(A).setMinPosition(created.getPosition()).build());
        check("a query with that min_position sees it", seen.getOrderId().equals(created.getOrderId()));

        // Interrupt the first subscriber mid-flow, resume after its last position.
        Status firstEnd = first.stop();
        check("a cancelled Subscribe ends CANCELLED on the client", firstEnd != null && firstEnd.getCode() == Status.Code.CANCELLED, firstEnd);
        long resumeAfter = first.lastPosition();
        Subscriber resumed = new Subscriber("resumed", as(evAsync, service), Subscriber.request(resumeAfter, 200).build());

        OrderView filled = waitUntil("the order is filled", () -> {
            OrderView v = qA.withDeadlineAfter(5, TimeUnit.SECONDS).getOrder(GetOrder.newBuilder().setOrderId(created.getOrderId()).setUserId(A).build());
            return v.getStatus() == OrderStatus.ORDER_STATUS_FILLED ? v : null;
        }, 20);
        if (filled != null) {
            List<String> q = filled.getFillsList().stream().map(Fill::getQuantity).collect(Collectors.toList());
            check("filled in two parts, 100 then 50", q.equals(List.of("100", "50")), q);
            check("with its broker's order id", filled.getBrokerOrderId().startsWith("VB-"), filled.getBrokerOrderId());
            check("at an exact average price", !filled.getAverageFillPrice().isEmpty(), filled.getAverageFillPrice());
            System.out.println("        filled: avg=" + filled.getAverageFillPrice() + " fill_count=" + filled.getFillCount() + " version=" + filled.getVersion());
        }

        System.out.println("invalid commands");
        e = expectError("quantity 0 is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT, () -> cA.createOrder(CreateOrder.newBuilder()
            .setUserId(A).setAccountId(cash.getAccountId()).setSymbol("AAPL").setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("0")
            .setOrderType(OrderType.ORDER_TYPE_LIMIT).build()));
        if (e != null) {
            Rich r = rich(e);
            System.out.println("        " + e.getStatus().getDescription() + " | " + r);
            check("StatusProto.fromThrowable reads google.rpc.Status", r.status != null && r.status.getCode() == 3);
            check("with a field violation on quantity", r.badRequest != null && r.badRequest.getFieldViolationsList().stream().anyMatch(v -> v.getField().equals("quantity")));
            check("with ErrorInfo in domain tradecore", r.info != null && r.info.getDomain().equals("tradecore"));
            check("status message equals the trailer's message", r.status != null && r.status.getMessage().equals(e.getStatus().getDescription()));
        }
        e = expectError("a limit order without a limit price is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT, () -> cA.createOrder(CreateOrder.newBuilder()
            .setUserId(A).setAccountId(cash.getAccountId()).setSymbol("AAPL").setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("5")
            .setOrderType(OrderType.ORDER_TYPE_LIMIT).build()));
        if (e != null) {
            Rich r = rich(e);
            check("naming limit_price", r.badRequest != null && r.badRequest.getFieldViolationsCount() == 1 && r.badRequest.getFieldViolations(0).getField().equals("limit_price"), r);
        }
        e = expectError("a lowercase symbol is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT, () -> cA.createOrder(CreateOrder.newBuilder()
            .setUserId(A).setAccountId(cash.getAccountId()).setSymbol("aapl").setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("5")
            .setOrderType(OrderType.ORDER_TYPE_MARKET).build()));
        if (e != null) System.out.println("        " + rich(e));
        e = expectError("a non-canonical decimal is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT, () -> cA.createOrder(CreateOrder.newBuilder()
            .setUserId(A).setAccountId(cash.getAccountId()).setSymbol("AAPL").setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("1.50")
            .setOrderType(OrderType.ORDER_TYPE_MARKET).build()));
        if (e != null) {
            Rich r = rich(e);
            check("as MALFORMED_REQUEST naming quantity", r.info != null && r.info.getReason().equals("MALFORMED_REQUEST")
                && r.badRequest != null && r.badRequest.getFieldViolationsCount() == 1 && r.badRequest.getFieldViolations(0).getField().equals("quantity"), r);
        }
        e = expectError("a 15-byte user id is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT, () -> cA.createOrder(CreateOrder.newBuilder()
            .setUserId(A.substring(1)).setAccountId(cash.getAccountId()).setSymbol("AAPL").setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("5")
            .setOrderType(OrderType.ORDER_TYPE_MARKET).build()));
        if (e != null) System.out.println("        " + rich(e));
        e = expectError("an unknown enum number is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT, () -> cA.createOrder(CreateOrder.newBuilder()
            .setUserId(A).setAccountId(cash.getAccountId()).setSymbol("AAPL").setSideValue(9).setQuantity("5")
            .setOrderType(OrderType.ORDER_TYPE_MARKET).build()));
        if (e != null) System.out.println("        " + rich(e));
        e = expectError("an empty CreateOrder is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT, () -> cA.createOrder(CreateOrder.getDefaultInstance()));
        if (e != null) System.out.println("        " + rich(e));

        if (tokens) {
            System.out.println("other users");
            e = expectError("Bob cannot read Alice's order", Status.Code.PERMISSION_DENIED,
                () -> qB.getOrder(GetOrder.newBuilder().setOrderId(created.getOrderId()).setUserId(B).build()));
            if (e != null) System.out.println("        " + e.getStatus().getDescription() + " | " + rich(e));
            e = expectError("Bob cannot act as Alice", Status.Code.PERMISSION_DENIED,
                () -> qB.getOrder(GetOrder.newBuilder().setOrderId(created.getOrderId()).setUserId(A).build()));
            if (e != null) System.out.println("        " + e.getStatus().getDescription() + " | " + rich(e));
            expectError("Bob cannot cancel Alice's order", Status.Code.PERMISSION_DENIED,
                () -> cB.cancelOrder(CancelOrder.newBuilder().setOrderId(created.getOrderId()).setUserId(B).build()));
            expectError("Bob cannot order on Alice's account", Status.Code.PERMISSION_DENIED,
                () -> cB.createOrder(CreateOrder.newBuilder().setUserId(B).setAccountId(cash.getAccountId()).setSymbol("AAPL")
                    .setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("1").setOrderType(OrderType.ORDER_TYPE_MARKET).build()));
        }
        e = expectError("an unknown order is NOT_FOUND", Status.Code.NOT_FOUND,
            () -> qA.getOrder(GetOrder.newBuilder().setOrderId(uuid(UUID.randomUUID())).setUserId(A).build()));
        if (e != null) System.out.println("        " + rich(e));

        System.out.println("expected versions");
        OrderResult working = cA.createOrder(CreateOrder.newBuilder().setUserId(A).setAccountId(cash.getAccountId()).setSymbol("MSFT")
            .setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("5").setOrderType(OrderType.ORDER_TYPE_LIMIT).setLimitPrice("100").build());
        OrderResult updated = cA.updateOrder(UpdateOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).setLimitPrice("101").setExpectedVersion(0).build());
        check("an update at the version read goes through", updated.getVersion() == 1, updated);
        e = expectError("an update at a stale version is ABORTED", Status.Code.ABORTED,
            () -> cA.updateOrder(UpdateOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).setLimitPrice("102").setExpectedVersion(0).build()));
        if (e != null) {
            Rich r = rich(e);
            System.out.println("        " + e.getStatus().getDescription() + " | " + r);
            check("with both versions", r.info != null && r.info.getReason().equals("VERSION_CONFLICT")
                && "0".equals(r.info.getMetadataMap().get("expected_version")) && "1".equals(r.info.getMetadataMap().get("current_version")), r);
        }

        System.out.println("a repeated command id");
        String cid = UUID.randomUUID().toString();
        CreateOrder req = CreateOrder.newBuilder().setUserId(A).setAccountId(cash.getAccountId()).setSymbol("TSLA").setSide(OrderSide.ORDER_SIDE_SELL)
            .setQuantity("3").setOrderType(OrderType.ORDER_TYPE_STOP).setStopPrice("200").build();
        OrderResult once = withCommandId(cA, cid).createOrder(req);
        OrderResult twice = withCommandId(cA, cid).createOrder(req);
        check("returns the first result", once.equals(twice), once + " vs " + twice);
        OrderList listed = qA.listOrders(ListOrders.newBuilder().setUserId(A).setMinPosition(twice.getPosition()).build());
        check("and created one order", listed.getOrdersList().stream().filter(o -> o.getSymbol().equals("TSLA")).count() == 1);
        e = expectError("the id with another order is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT,
            () -> withCommandId(cA, cid).createOrder(req.toBuilder().setQuantity("4").build()));
        if (e != null) {
            Rich r = rich(e);
            check("reason COMMAND_ID_REUSED", r.info != null && r.info.getReason().equals("COMMAND_ID_REUSED"), r);
        }
        e = expectError("a command id that is not a UUID is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT,
            () -> withCommandId(cA, "not-a-uuid").createOrder(req));
        if (e != null) System.out.println("        " + e.getStatus() + " | " + rich(e));

        System.out.println("ListOrders: filters and paging");
        List<ByteString> mine = new ArrayList<>();
        long lastPos = 0;
        for (int i = 0; i < 5; i++) {
            OrderResult r = cA.createOrder(CreateOrder.newBuilder().setUserId(A).setAccountId(cash.getAccountId()).setSymbol("PG" + (char) ('A' + i))
                .setSide(OrderSide.ORDER_SIDE_BUY).setQuantity("1").setOrderType(OrderType.ORDER_TYPE_LIMIT).setLimitPrice("1").build());
            mine.add(r.getOrderId());
            lastPos = r.getPosition();
        }
        List<OrderView> pagedAll = new ArrayList<>();
        ByteString after = ByteString.EMPTY;
        int pages = 0;
        final long lp = lastPos;
        do {
            ListOrders.Builder lb = ListOrders.newBuilder().setUserId(A).setPageSize(2).setMinPosition(lp);
            if (!after.isEmpty()) lb.setAfterOrderId(after);
            OrderList page = qA.withDeadlineAfter(10, TimeUnit.SECONDS).listOrders(lb.build());
            pagedAll.addAll(page.getOrdersList());
            after = page.getNextAfterOrderId();
            pages++;
            check("page " + pages + " holds at most 2", page.getOrdersCount() <= 2, page.getOrdersCount());
        } while (!after.isEmpty() && pages < 50);
        OrderList whole = qA.listOrders(ListOrders.newBuilder().setUserId(A).setMinPosition(lp).build());
        check("paging by 2 yields the same orders as one page", pagedAll.stream().map(OrderView::getOrderId).collect(Collectors.toList())
            .equals(whole.getOrdersList().stream().map(OrderView::getOrderId).collect(Collectors.toList())), pagedAll.size() + " vs " + whole.getOrdersCount());
        check("oldest first, our 5 new orders last in order", whole.getOrdersList().stream().map(OrderView::getOrderId).collect(Collectors.toList())
            .subList(whole.getOrdersCount() - 5, whole.getOrdersCount()).equals(mine));
        OrderList onlyFilled = qA.listOrders(ListOrders.newBuilder().setUserId(A).addStatuses(OrderStatus.ORDER_STATUS_FILLED).build());
        check("status filter FILLED gives just the filled order", onlyFilled.getOrdersCount() == 1 && onlyFilled.getOrders(0).getOrderId().equals(created.getOrderId()),
            onlyFilled.getOrdersList().stream().map(OrderView::getStatus).collect(Collectors.toList()));
        OrderList twoStates = qA.listOrders(ListOrders.newBuilder().setUserId(A).addStatuses(OrderStatus.ORDER_STATUS_FILLED).addStatuses(OrderStatus.ORDER_STATUS_PENDING).build());
        check("two statuses combine", twoStates.getOrdersList().stream().allMatch(o -> o.getStatus() == OrderStatus.ORDER_STATUS_FILLED || o.getStatus() == OrderStatus.ORDER_STATUS_PENDING)
            && twoStates.getOrdersCount() == whole.getOrdersCount(), twoStates.getOrdersCount() + " of " + whole.getOrdersCount());
        e = expectError("an unknown page cursor is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT,
            () -> qA.listOrders(ListOrders.newBuilder().setUserId(A).setAfterOrderId(uuid(UUID.randomUUID())).build()));
        if (e != null) { Rich r = rich(e); check("reason UNKNOWN_PAGE_CURSOR", r.info != null && r.info.getReason().equals("UNKNOWN_PAGE_CURSOR"), r); }
        e = expectError("page_size 1001 is INVALID_ARGUMENT", Status.Code.INVALID_ARGUMENT,
            () -> qA.listOrders(ListOrders.newBuilder().setUserId(A).setPageSize(1001).build()));
        if (e != null) System.out.println("        " + rich(e));

        System.out.println("cancel");
        OrderResult cancelled = cA.cancelOrder(CancelOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).setReason("changed my mind").build());
        check("CancelOrder cancels a working order", cancelled.getStatus() == OrderStatus.ORDER_STATUS_CANCELLED, cancelled);
        OrderView cv = qA.getOrder(GetOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).setMinPosition(cancelled.getPosition()).build());
        check("GetOrder shows it cancelled with the reason", cv.getStatus() == OrderStatus.ORDER_STATUS_CANCELLED && cv.getStatusReason().equals("changed my mind"), cv.getStatus() + " " + cv.getStatusReason());
        e = expectError("cancelling a filled order is FAILED_PRECONDITION", Status.Code.FAILED_PRECONDITION,
            () -> cA.cancelOrder(CancelOrder.newBuilder().setOrderId(created.getOrderId()).setUserId(A).build()));
        if (e != null) System.out.println("        " + e.getStatus().getDescription() + " | " + rich(e));
        OrderResult again = null;
        try {
            again = cA.cancelOrder(CancelOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).setReason("changed my mind").build());
            System.out.println("        cancelling again: OK " + again.toString().replace('\n', ' '));
        } catch (StatusRuntimeException x) {
            System.out.println("        cancelling again: " + x.getStatus() + " | " + rich(x));
        }

        System.out.println("deadlines and positions");
        long head = cancelled.getPosition();
        e = expectError("a min_position past the log is OUT_OF_RANGE", Status.Code.OUT_OF_RANGE,
            () -> qA.withDeadlineAfter(2, TimeUnit.SECONDS).getOrder(GetOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).setMinPosition(head + 1_000_000).build()));
        if (e != null) System.out.println("        " + rich(e));
        long t0 = System.nanoTime();
        // A 1 ms deadline on a min_position already reached: either answer is fine (the position is reached at once).
        try {
            qA.withDeadlineAfter(1, TimeUnit.MILLISECONDS).getOrder(GetOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).setMinPosition(head).build());
            System.out.printf("        a 1 ms deadline on a reached min_position: OK in %.2f ms%n", (System.nanoTime() - t0) / 1e6);
        } catch (StatusRuntimeException x) {
            System.out.printf("        a 1 ms deadline on a reached min_position: %s after %.2f ms | %s%n", x.getStatus(), (System.nanoTime() - t0) / 1e6, rich(x));
        }
        e = expectError("an expired deadline at send time is DEADLINE_EXCEEDED", Status.Code.DEADLINE_EXCEEDED,
            () -> qA.withDeadlineAfter(-1, TimeUnit.MILLISECONDS).getOrder(GetOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).build()));
        OrderView ok = qA.withDeadlineAfter(300, TimeUnit.MILLISECONDS).getOrder(GetOrder.newBuilder().setOrderId(working.getOrderId()).setUserId(A).setMinPosition(head).build());
        check("a 300 ms deadline on a reached min_position succeeds", ok.getOrderId().equals(working.getOrderId()));

        System.out.println("the event stream");
        final long lastWrite = lp > head ? lp : head;
        waitUntil("the resumed subscriber reaches the last write", () ->
            resumed.lastPosition() >= lastWrite || (!resumed.checkpoints.isEmpty() && resumed.checkpoints.get(resumed.checkpoints.size() - 1).getPosition() >= lastWrite) ? true : null, 20);
        Thread.sleep(500);
        Status rs = resumed.stop();
        check("resumed subscriber ended CANCELLED after cancel()", rs != null && rs.getCode() == Status.Code.CANCELLED, rs);
        List<Long> positions = new ArrayList<>();
        first.events.forEach(x -> positions.add(x.getGlobalPosition()));
        resumed.events.forEach(x -> positions.add(x.getGlobalPosition()));
        boolean contiguous = true;
        for (int i = 0; i < positions.size(); i++) if (positions.get(i) != i + 1) { contiguous = false; break; }
        if (!tokens) {
            // Open server may already hold other runs' events: check strictly increasing with no gap from the first seen.
            contiguous = true;
            for (int i = 1; i < positions.size(); i++) if (positions.get(i) != positions.get(i - 1) + 1) { contiguous = false; break; }
        }
        check("the subscriber saw every position exactly once and in order", contiguous && positions.get(positions.size() - 1) >= lastWrite,
            "first " + first.events.size() + " then " + resumed.events.size() + ", resumed after " + resumeAfter + ", head " + lastWrite);
        check("it was told when it caught up", first.caughtUp >= 1 && resumed.caughtUp >= 1, first.caughtUp + "/" + resumed.caughtUp);
        check("an idle subscriber gets checkpoints", resumed.checkpoints.size() >= 1);
        Set<String> types = new HashSet<>();
        first.events.forEach(x -> types.add(x.getEventType()));
        resumed.events.forEach(x -> types.add(x.getEventType()));
        for (String t : List.of("BrokerConnectionInitiated", "BrokerOAuthStarted", "BrokerConnectionEstablished", "BrokerAccountLinked",
                "BrokerAccountDataRefreshed", "AllAccountsRefreshCompleted", "AutomationCreated", "AutomationActivated", "OrderCreated",
                "OrderPlaced", "FillAdded", "OrderFilled", "OrderCancelled"))
            check("the stream carries " + t, types.contains(t));
        // Decode every order payload with the generated classes.
        int decoded = 0, undecodable = 0;
        List<EventEnvelope> allEv = new ArrayList<>(first.events);
        allEv.addAll(resumed.events);
        for (EventEnvelope x : allEv) {
            try {
                switch (x.getEventType()) {
                    case "OrderCreated": OrderCreated.parseFrom(x.getPayload()); decoded++; break;
                    case "OrderPlaced": OrderPlaced.parseFrom(x.getPayload()); decoded++; break;
                    case "FillAdded": FillAdded.parseFrom(x.getPayload()); decoded++; break;
                    case "OrderFilled": OrderFilled.parseFrom(x.getPayload()); decoded++; break;
                    case "BrokerAccountLinked": BrokerAccountLinked.parseFrom(x.getPayload()); decoded++; break;
                    case "AutomationCreated": AutomationCreated.parseFrom(x.getPayload()); decoded++; break;
                    default: break;
                }
            } catch (Exception ex) { undecodable++; }
        }
        check("event payloads decode with the generated classes", undecodable == 0 && decoded > 0, decoded + " decoded, " + undecodable + " failed");
        List<EventEnvelope> orderEvents = allEv.stream().filter(x -> x.getStream().equals("order-" + uuid(created.getOrderId()))).collect(Collectors.toList());
        System.out.println("        the order's events: " + orderEvents.stream().map(x -> x.getEventType() + "@" + x.getGlobalPosition() + "/v" + x.getVersion()).collect(Collectors.toList()));
        if (aliceView != null) {
            aliceView.stop();
            long foreign = aliceView.events.stream().filter(x -> !alice.equals(uuid(x.getMetadata().getUserId()))).count();
            long sagas = aliceView.events.stream().filter(x -> x.getStreamType().equals("saga")).count();
            check("a user's subscription sees only its own events", !aliceView.events.isEmpty() && foreign == 0 && sagas == 0,
                aliceView.events.size() + " events, " + foreign + " foreign, " + sagas + " saga");
        }
        ReadStreamResponse read = as(ev, service).readStream(ReadStreamRequest.newBuilder().setStream("order-" + uuid(created.getOrderId())).build());
        check("ReadStream reads the order's stream", read.getEventsCount() >= 2 && read.getEvents(0).getEventType().equals("OrderCreated")
            && read.getEvents(1).getEventType().equals("OrderPlaced") && read.getEndOfStream(),
            read.getEventsList().stream().map(EventEnvelope::getEventType).collect(Collectors.toList()));

        System.out.println("subscription variants");
        // After a stream version, with a filter on that stream.
        String oStream = "order-" + uuid(created.getOrderId());
        Subscriber sv = new Subscriber("sv", as(evAsync, service), SubscribeRequest.newBuilder()
            .setAfterStreamVersion(StreamVersion.newBuilder().setStream(oStream).setVersion(0))
            .setFilter(SubscriptionFilter.newBuilder().addStreams(oStream)).setCheckpointIntervalMs(100).build());
        waitUntil("after_stream_version catches up", () -> sv.caughtUp > 0 || sv.error != null ? true : null, 10);
        sv.stop();
        check("after_stream_version 0 delivers versions 1.. of that stream only",
            !sv.events.isEmpty() && sv.events.get(0).getVersion() == 1 && sv.events.stream().allMatch(x -> x.getStream().equals(oStream)),
            sv.events.stream().map(x -> x.getEventType() + "/v" + x.getVersion()).collect(Collectors.toList()) + " err=" + sv.error);
        Subscriber bad1 = new Subscriber("bad1", as(evAsync, service), SubscribeRequest.newBuilder()
            .setFilter(SubscriptionFilter.newBuilder().addStreamTypes("orders").addEventTypes("OrderExploded")).build());
        bad1.await(5000);
        check("an unknown stream type / event type is INVALID_ARGUMENT", bad1.error != null && Status.fromThrowable(bad1.error).getCode() == Status.Code.INVALID_ARGUMENT,
            bad1.error == null ? "no error, completed=" + bad1.completed : Status.fromThrowable(bad1.error));
        if (bad1.error != null) System.out.println("        " + Status.fromThrowable(bad1.error).getDescription() + " | " + rich(bad1.error));
        Subscriber bad2 = new Subscriber("bad2", as(evAsync, service), Subscriber.request(head + 1_000_000, 200).build());
        bad2.await(5000);
        check("a start past the head is OUT_OF_RANGE", bad2.error != null && Status.fromThrowable(bad2.error).getCode() == Status.Code.OUT_OF_RANGE,
            bad2.error == null ? "no error" : Status.fromThrowable(bad2.error));
        if (bad2.error != null) System.out.println("        " + rich(bad2.error));
        Subscriber bad3 = new Subscriber("bad3", as(evAsync, service), SubscribeRequest.newBuilder()
            .setAfterStreamVersion(StreamVersion.newBuilder().setStream(oStream).setVersion(99))
            .setFilter(SubscriptionFilter.newBuilder().addStreams(oStream)).build());
        bad3.await(5000);
        check("after the end of a stream is OUT_OF_RANGE", bad3.error != null && Status.fromThrowable(bad3.error).getCode() == Status.Code.OUT_OF_RANGE,
            bad3.error == null ? "no error" : Status.fromThrowable(bad3.error));
        if (bad3.error != null) System.out.println("        " + rich(bad3.error));

        finish(channel);
    }

    static void finish(ManagedChannel channel) throws InterruptedException {
        channel.shutdown().awaitTermination(5, TimeUnit.SECONDS);
        if (!failures.isEmpty()) {
            System.out.println(failures.size() + " check(s) failed: " + String.join(", ", failures));
            System.exit(1);
        }
        System.out.println("all checks passed");
    }
}
