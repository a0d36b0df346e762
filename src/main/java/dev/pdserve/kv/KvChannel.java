package dev.pdserve.kv;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * One framed connection (see docs/kv-protocol.md): frames are {@code type u8, length u32 (big
 * endian), body}; a BLOCKS frame is followed by its raw payload, moved between the socket and
 * off-heap segments without a heap copy. Blocking socket channels have no read timeout, so every
 * read and write arms a deadline that a watchdog thread enforces by closing the channel.
 */
final class KvChannel implements AutoCloseable {
    static final byte HELLO = 1, AUTH = 2, PULL = 3, BLOCKS = 4, DONE = 5, RELEASE = 6, RELEASED = 7, ERROR = 8, PROBE = 9, BYE = 10,
            REFUSED = 11;
    static final int HEADER_BYTES = 5;
    static final int MAX_FRAME = 16 << 20;
    /** Until the handshake is done a frame is HELLO, PROBE, AUTH or ERROR: a few hundred bytes, so garbage costs no memory. */
    static final int HANDSHAKE_MAX_FRAME = 4096;
    /** Payload moved per socket call, so a read or write deadline measures progress, not the whole transfer. */
    private static final long CHUNK = 4 << 20;

    final SocketChannel channel;
    final String peer;
    private final long timeoutNanos;
    private final ByteBuffer header = ByteBuffer.allocateDirect(HEADER_BYTES);
    private ByteBuffer body = ByteBuffer.allocate(512);
    private final ByteBuffer[] pair = new ByteBuffer[2];
    private volatile long deadline; // System.nanoTime() after which the watchdog closes the channel; 0 = none
    private long totalDeadline;      // end of the whole transfer in progress; 0 = none
    private String totalOverrun = "";
    private volatile boolean timedOut;
    private int maxFrame = HANDSHAKE_MAX_FRAME;
    long bytesRead;
    long bytesWritten;
    /** The other side's HELLO, once the handshake succeeded. */
    KvPeerInfo remote;

    KvChannel(SocketChannel channel, String peer, int timeoutMs) {
        this.channel = channel;
        this.peer = peer;
        this.timeoutNanos = timeoutMs * 1_000_000L;
        Watchdog.OPEN.add(this);
    }

    /** A received control frame; {@code body} is positioned at its start. */
    record Frame(byte type, ByteBuffer body) {
        String string() throws IOException {
            int n = u16();
            if (body.remaining() < n) throw malformed();
            byte[] b = new byte[n];
            body.get(b);
            return new String(b, StandardCharsets.UTF_8);
        }

        byte[] bytes() throws IOException {
            int n = u16();
            if (body.remaining() < n) throw malformed();
            byte[] b = new byte[n];
            body.get(b);
            return b;
        }

        int u16() throws IOException {
            if (body.remaining() < 2) throw malformed();
            return body.getShort() & 0xffff;
        }

        int i32() throws IOException {
            if (body.remaining() < 4) throw malformed();
            return body.getInt();
        }

        int[] ints() throws IOException {
            int n = i32();
            if (n < 0 || body.remaining() < 4L * n) throw malformed();
            int[] a = new int[n];
            body.asIntBuffer().get(a);
            body.position(body.position() + 4 * n);
            return a;
        }

        byte u8() throws IOException {
            if (!body.hasRemaining()) throw malformed();
            return body.get();
        }

        private IOException malformed() { return new IOException("malformed " + name(type) + " frame"); }
    }

    static String name(byte type) {
        return switch (type) {
            case HELLO -> "HELLO"; case AUTH -> "AUTH"; case PULL -> "PULL"; case BLOCKS -> "BLOCKS"; case DONE -> "DONE";
            case RELEASE -> "RELEASE"; case RELEASED -> "RELEASED"; case ERROR -> "ERROR"; case PROBE -> "PROBE"; case BYE -> "BYE";
            case REFUSED -> "REFUSED";
            default -> "type-" + type;
        };
    }

    // ---- building control frames: start(), put...(), send(type) ----

    ByteBuffer start() {
        body.clear();
        return body;
    }

    KvChannel putString(String s) {
        return putBytes(s.getBytes(StandardCharsets.UTF_8));
    }

    KvChannel putBytes(byte[] b) {
        if (b.length > 0xffff) throw new IllegalArgumentException("field longer than 65535 bytes");
        ensure(2 + b.length);
        body.putShort((short) b.length).put(b);
        return this;
    }

    KvChannel putInt(int v) {
        ensure(4);
        body.putInt(v);
        return this;
    }

    KvChannel putByte(int v) {
        ensure(1);
        body.put((byte) v);
        return this;
    }

    KvChannel putInts(int[] a) {
        ensure(4 + 4L * a.length);
        body.putInt(a.length);
        for (int v : a) body.putInt(v);
        return this;
    }

    private void ensure(long more) {
        if (body.remaining() >= more) return;
        long need = body.position() + more;
        if (need > MAX_FRAME) throw new IllegalArgumentException("frame larger than " + MAX_FRAME + " bytes");
        ByteBuffer bigger = ByteBuffer.allocate((int) Math.max(need, Math.min(MAX_FRAME, 2L * body.capacity())));
        body.flip();
        bigger.put(body);
        body = bigger;
    }

    /** Sends the frame built since {@link #start()}. */
    void send(byte type, String what) throws IOException {
        body.flip();
        header.clear();
        header.put(type).putInt(body.remaining()).flip();
        pair[0] = header;
        pair[1] = body;
        writeFully(pair, 0, 2, "sending " + what);
    }

    void sendError(String message) throws IOException {
        start();
        putString(message.length() > 8000 ? message.substring(0, 8000) : message);
        send(ERROR, "ERROR");
    }

    /** Refuses a PULL or RELEASE for a reason that is the request's, with an HTTP status for the decode instance to answer. */
    void sendRefused(int status, String message) throws IOException {
        start();
        putInt(status).putString(message.length() > 8000 ? message.substring(0, 8000) : message);
        send(REFUSED, "REFUSED");
    }

    /** Reads the next frame, with a timeout unless {@code idle} (a pooled connection may sit idle for long). */
    Frame read(String what, boolean idle) throws IOException {
        header.clear();
        readFully(header, idle ? 0 : timeoutNanos, what);
        header.flip();
        byte type = header.get();
        int len = header.getInt();
        if (len < 0 || len > maxFrame) {
            throw new IOException(name(type) + " frame of " + Integer.toUnsignedString(len) + " bytes from " + peer + " (limit " + maxFrame
                    + (maxFrame == HANDSHAKE_MAX_FRAME ? " before the handshake is done: not a pdserve KV peer?)" : ")"));
        }
        if (body.capacity() < len) body = ByteBuffer.allocate(len);
        body.clear().limit(len);
        readFully(body, timeoutNanos, what);
        body.flip();
        return new Frame(type, body);
    }

    /** Writes whole buffers, at most {@link #CHUNK} bytes per call so the deadline measures progress. */
    void writeFully(ByteBuffer[] bufs, int from, int to, String what) throws IOException {
        int i = from;
        while (i < to) {
            int j = i;
            long chunk = 0;
            while (j < to && (chunk == 0 || chunk + bufs[j].remaining() <= CHUNK)) chunk += bufs[j++].remaining();
            while (chunk > 0) {
                arm(timeoutNanos, what);
                long n;
                try {
                    n = channel.write(bufs, i, j - i);
                } catch (IOException e) {
                    throw translate(e, what);
                } finally {
                    deadline = 0;
                }
                bytesWritten += n;
                chunk -= n;
                while (i < j - 1 && !bufs[i].hasRemaining()) i++; // the next call skips what is done
            }
            i = j;
        }
    }

    /** Fills whole buffers (scattering read), with the same per-chunk deadline. */
    void readFully(ByteBuffer[] bufs, int from, int to, String what) throws IOException {
        int i = from;
        while (i < to) {
            int j = i;
            long chunk = 0;
            while (j < to && (chunk == 0 || chunk + bufs[j].remaining() <= CHUNK)) chunk += bufs[j++].remaining();
            while (chunk > 0) {
                arm(timeoutNanos, what);
                long n;
                try {
                    n = channel.read(bufs, i, j - i);
                } catch (IOException e) {
                    throw translate(e, what);
                } finally {
                    deadline = 0;
                }
                if (n < 0) throw new EOFException(peer + " closed the connection while " + what);
                bytesRead += n;
                chunk -= n;
                while (i < j - 1 && !bufs[i].hasRemaining()) i++;
            }
            i = j;
        }
    }

    private void readFully(ByteBuffer b, long timeout, String what) throws IOException {
        while (b.hasRemaining()) {
            arm(timeout, what);
            int n;
            try {
                n = channel.read(b);
            } catch (IOException e) {
                throw translate(e, what);
            } finally {
                deadline = 0;
            }
            if (n < 0) throw new EOFException(peer + " closed the connection while " + what);
            bytesRead += n;
        }
    }

    private void arm(long timeout, String what) {
        long d = timeout == 0 ? 0 : System.nanoTime() + timeout;
        if (totalDeadline != 0 && (d == 0 || d - totalDeadline > 0)) d = totalDeadline;
        deadline = d == 0 ? 0 : d | 1;
    }

    /** The handshake succeeded: frames up to {@link #MAX_FRAME} (a PULL's block list) are read from now on. */
    void authenticated() { maxFrame = MAX_FRAME; }

    /** Bounds everything until {@link #endTotal()} to {@code millis} (transfer_timeout_ms), on top of the per-read timeout. */
    void startTotal(long millis) {
        startTotal(millis, "the transfer took longer than transfer_timeout_ms");
    }

    /** As {@link #startTotal(long)}; {@code overrun} says what a timeout means (for the error message). */
    void startTotal(long millis, String overrun) {
        totalDeadline = (System.nanoTime() + millis * 1_000_000L) | 1;
        totalOverrun = overrun + " (" + millis + " ms)";
    }

    void endTotal() { totalDeadline = 0; }

    private IOException translate(IOException e, String what) {
        if (!timedOut) return e;
        SocketTimeoutException t = new SocketTimeoutException("timed out while " + what + " (" + peer + ": no progress for "
                + timeoutNanos / 1_000_000 + " ms, or " + totalOverrun + ")");
        t.initCause(e);
        return t;
    }

    boolean isOpen() { return channel.isOpen(); }

    @Override
    public void close() {
        Watchdog.OPEN.remove(this);
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing is best effort
        }
    }

    /** Closes channels whose armed deadline passed; a blocked read or write then fails with a timeout. */
    private static final class Watchdog {
        static final Set<KvChannel> OPEN = ConcurrentHashMap.newKeySet();

        static {
            Thread.ofPlatform().daemon().name("pdserve-kv-watchdog").start(() -> {
                while (true) {
                    LockSupport.parkNanos(20_000_000L);
                    long now = System.nanoTime();
                    for (KvChannel c : OPEN) {
                        long d = c.deadline;
                        if (d != 0 && now - d > 0) {
                            c.timedOut = true;
                            c.close();
                        }
                    }
                }
            });
        }
    }
}
