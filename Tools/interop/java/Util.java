package interop;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;

/** Small helpers shared by the Java client programs. */
public final class Util {
    public static final List<String> failures = new ArrayList<>();

    public static boolean check(String name, boolean ok, Object detail) {
        if (ok) {
            System.out.println("  ok    " + name);
        } else {
            System.out.println("  FAIL  " + name + " " + detail);
            failures.add(name);
        }
        return ok;
    }

    public static boolean check(String name, boolean ok) { return check(name, ok, ""); }

    public static ByteString uuid(UUID u) {
        ByteBuffer b = ByteBuffer.allocate(16);
        b.putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits());
        return ByteString.copyFrom(b.array());
    }

    public static UUID uuid(ByteString bs) {
        if (bs.size() != 16) return null;
        ByteBuffer b = bs.asReadOnlyByteBuffer();
        return new UUID(b.getLong(), b.getLong());
    }

    public static final Metadata.Key<String> AUTH = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> CMD_ID = Metadata.Key.of("tradecore-command-id", Metadata.ASCII_STRING_MARSHALLER);

    public static <S extends AbstractStub<S>> S as(S stub, String token) {
        if (token == null) return stub;
        Metadata md = new Metadata();
        md.put(AUTH, "Bearer " + token);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    public static <S extends AbstractStub<S>> S withCommandId(S stub, String id) {
        Metadata md = new Metadata();
        md.put(CMD_ID, id);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    /** Calls and expects a failure with `code`; returns the exception or null. */
    public static StatusRuntimeException expectError(String name, Status.Code code, Callable<?> call) {
        try {
            Object r = call.call();
            check(name, false, "the call succeeded: " + r);
            return null;
        } catch (StatusRuntimeException e) {
            check(name, e.getStatus().getCode() == code, "got " + e.getStatus());
            return e;
        } catch (Exception e) {
            check(name, false, "threw " + e);
            return null;
        }
    }

    public static final class Rich {
        public com.google.rpc.Status status;
        public ErrorInfo info;
        public BadRequest badRequest;
        public String toString() {
            return "status=" + (status == null ? "null" : status.getCode() + " '" + status.getMessage() + "'")
                + " info=" + (info == null ? "null" : info.getReason() + " " + info.getDomain() + " " + info.getMetadataMap())
                + " badRequest=" + (badRequest == null ? "null" : badRequest.getFieldViolationsList().toString().replace('\n', ' '));
        }
    }

    public static Rich rich(Throwable t) {
        Rich r = new Rich();
        r.status = StatusProto.fromThrowable(t);
        if (r.status != null) {
            for (Any a : r.status.getDetailsList()) {
                try {
                    if (a.is(ErrorInfo.class)) r.info = a.unpack(ErrorInfo.class);
                    else if (a.is(BadRequest.class)) r.badRequest = a.unpack(BadRequest.class);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }
        }
        return r;
    }

    public interface Check<T> { T get() throws Exception; }

    public static <T> T waitUntil(String what, Check<T> predicate, double seconds) throws Exception {
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < deadline) {
            T v = predicate.get();
            if (v != null) return v;
            Thread.sleep(50);
        }
        check("in time: " + what, false, "(waited " + seconds + " s)");
        return null;
    }
}
