package interop;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import tradecore.diagnostics.v1.DiagnosticsGrpc;
import tradecore.diagnostics.v1.DiagnosticsOuterClass.PingRequest;

/**
 * Calls cancelled by the client right after they start, beside calls that are not, on one channel.
 * grpc-java sends the request it had queued after its RST_STREAM; the server must drop it, not
 * close the connection under the other calls. Usage: Cancels HOST:PORT CALLS
 */
public final class Cancels {
    public static void main(String[] args) throws Exception {
        ManagedChannel channel = NettyChannelBuilder.forTarget(args[0]).usePlaintext().build();
        var futures = DiagnosticsGrpc.newFutureStub(channel);
        var blocking = DiagnosticsGrpc.newBlockingStub(channel);
        int calls = Integer.parseInt(args[1]);
        Map<String, Integer> outcomes = new TreeMap<>();
        for (int i = 0; i < calls; i++) {
            futures.ping(PingRequest.getDefaultInstance()).cancel(true);
            try {
                blocking.withDeadlineAfter(10, TimeUnit.SECONDS).ping(PingRequest.getDefaultInstance());
                outcomes.merge("OK", 1, Integer::sum);
            } catch (StatusRuntimeException e) {
                outcomes.merge(e.getStatus().getCode() + ": " + e.getStatus().getDescription(), 1, Integer::sum);
            }
        }
        channel.shutdownNow();
        System.out.println(calls + " calls cancelled at once, each beside one that is not: " + outcomes);
        if (outcomes.getOrDefault("OK", 0) != calls) {
            System.out.println("  FAIL  a cancelled call took others down with it");
            System.exit(1);
        }
        System.out.println("  ok    every call beside a cancelled one was answered");
    }
}
