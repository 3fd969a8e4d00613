package interop;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import tradecore.api.v1.EventStreamServiceGrpc;
import tradecore.events.v1.Events.*;

/** Records a Subscribe stream through the async stub: every message in order, and how it ended. */
public final class Subscriber implements ClientResponseObserver<SubscribeRequest, SubscribeResponse> {
    public final String name;
    public final List<EventEnvelope> events = new CopyOnWriteArrayList<>();
    public final List<SubscriptionCheckpoint> checkpoints = new CopyOnWriteArrayList<>();
    public final List<SubscribeResponse> all = new CopyOnWriteArrayList<>();
    public volatile int caughtUp = 0;
    public volatile int fellBehind = 0;
    public volatile Throwable error;
    public volatile boolean completed;
    public volatile long endedAtNanos;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile ClientCallStreamObserver<SubscribeRequest> call;

    public Subscriber(String name, EventStreamServiceGrpc.EventStreamServiceStub stub, SubscribeRequest request) {
        this.name = name;
        stub.subscribe(request, this);
    }

    public static SubscribeRequest.Builder request(Long after, int intervalMs) {
        SubscribeRequest.Builder b = SubscribeRequest.newBuilder().setCheckpointIntervalMs(intervalMs);
        if (after != null) b.setAfterPosition(after);
        return b;
    }

    @Override public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) { this.call = requestStream; }

    @Override public void onNext(SubscribeResponse r) {
        all.add(r);
        switch (r.getMessageCase()) {
            case EVENT: events.add(r.getEvent()); break;
            case CHECKPOINT: checkpoints.add(r.getCheckpoint()); break;
            case CAUGHT_UP: caughtUp++; break;
            case FELL_BEHIND: fellBehind++; break;
            default: break;
        }
    }

    @Override public void onError(Throwable t) { error = t; endedAtNanos = System.nanoTime(); done.countDown(); }

    @Override public void onCompleted() { completed = true; endedAtNanos = System.nanoTime(); done.countDown(); }

    public void cancel() { call.cancel("client stops", null); }

    public boolean await(long ms) throws InterruptedException { return done.await(ms, TimeUnit.MILLISECONDS); }

    /** Cancels and waits for the end; true if it ended with CANCELLED (what grpc-java reports locally). */
    public Status stop() throws InterruptedException {
        cancel();
        await(10000);
        return error == null ? null : Status.fromThrowable(error);
    }

    public long lastPosition() { return events.isEmpty() ? 0 : events.get(events.size() - 1).getGlobalPosition(); }
}
