package dev.pdserve.http;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * The client end of one HTTP connection, as the Linux kernel sees it. Helidon 4.5 cannot tell
 * that a client closed while the server has not written yet: its socket says connected until the
 * server closes, and reading from the connection would take bytes from Helidon's parser. The
 * kernel can: a netlink sock_diag query looks the connection up by its addresses (a hash lookup,
 * microseconds, the way {@code ss} asks) and returns its TCP state. The client's FIN turns ours
 * into CLOSE_WAIT; a reset removes it. A client that only shut down its output also sent a FIN
 * and counts as closed: TCP cannot tell the two apart before the server writes. Off Linux, or
 * when the lookup does not find the connection at the start, {@link #closed()} is always false.
 * The OpenAI server and the PD proxy both use it while they compute a whole answer.
 */
public final class TcpPeer {
    private static final Logger LOG = Logger.getLogger(TcpPeer.class.getName());
    private static final int AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16, SOCK_DGRAM = 2, NETLINK_SOCK_DIAG = 4;
    private static final short SOCK_DIAG_BY_FAMILY = 20, NLM_F_REQUEST = 1, NLMSG_ERROR = 2;
    private static final int MSG_DONTWAIT = 0x40, ENOENT = 2;
    private static final int ESTABLISHED = 1, LISTEN = 10, UNKNOWN = -1, NOT_FOUND = 0;
    private static final int REQUEST_BYTES = 72; // nlmsghdr (16) + inet_diag_req_v2 (56)
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** Never closed: a connection that is not watched. */
    public static final TcpPeer UNWATCHED = new TcpPeer(0, null, null);

    /** How often a caller waiting on a silent connection asks {@link #closed()}: a client that left is noticed this soon. */
    public static final long CHECK_MILLIS = 100;

    // One netlink socket for all queries, a query and its reply under the lock.
    private static final Object LOCK = new Object();
    private static int netlink = -1, seq;
    private static MemorySegment request, reply;

    private final int family;
    private final InetSocketAddress local, remote;

    private TcpPeer(int family, InetSocketAddress local, InetSocketAddress remote) {
        this.family = family;
        this.local = local;
        this.remote = remote;
    }

    /**
     * The connection from {@code remote} to {@code local}, if the kernel finds it. An IPv4 client
     * of a dual-stack listener is an IPv6 socket with mapped addresses, so both families are tried.
     */
    public static TcpPeer of(SocketAddress local, SocketAddress remote) {
        if (SEND == null || !(local instanceof InetSocketAddress l) || !(remote instanceof InetSocketAddress r)
                || l.getAddress() == null || r.getAddress() == null) {
            return UNWATCHED;
        }
        boolean v4 = l.getAddress() instanceof Inet4Address;
        for (int family : v4 ? new int[] {AF_INET6, AF_INET} : new int[] {AF_INET6}) {
            int state = state(family, l, r);
            // A lookup that misses the connection may land on the listener; neither is this connection.
            if (state > 0 && state != LISTEN) return new TcpPeer(family, l, r);
        }
        return UNWATCHED;
    }

    /** True once the client closed or reset the connection. */
    public boolean closed() {
        if (local == null) return false;
        int state = state(family, local, remote);
        return state == NOT_FOUND || (state > 0 && state != ESTABLISHED);
    }

    /** The TCP state of the connection, NOT_FOUND, or UNKNOWN when the kernel could not be asked. */
    private static int state(int family, InetSocketAddress local, InetSocketAddress remote) {
        synchronized (LOCK) {
            try {
                if (netlink < 0) {
                    netlink = (int) SOCKET.invokeExact(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
                    if (netlink < 0) return UNKNOWN;
                    request = Arena.global().allocate(REQUEST_BYTES, 8);
                    reply = Arena.global().allocate(1024, 8);
                }
                fill(request, ++seq, family, local, remote);
                if ((long) SEND.invokeExact(netlink, request, (long) REQUEST_BYTES, 0) != REQUEST_BYTES) return UNKNOWN;
                // The kernel answers within send(), so the reply is already queued.
                long n;
                do { // skips a late reply to an earlier query
                    n = (long) RECV.invokeExact(netlink, reply, reply.byteSize(), MSG_DONTWAIT);
                } while (n >= 16 && reply.get(ValueLayout.JAVA_INT, 8) != seq);
                if (n < 20) return UNKNOWN;
                if (reply.get(ValueLayout.JAVA_SHORT, 4) == NLMSG_ERROR) {
                    return reply.get(ValueLayout.JAVA_INT, 16) == -ENOENT ? NOT_FOUND : UNKNOWN;
                }
                return reply.get(ValueLayout.JAVA_SHORT, 4) == SOCK_DIAG_BY_FAMILY ? reply.get(ValueLayout.JAVA_BYTE, 17) : UNKNOWN;
            } catch (Throwable t) {
                LOG.fine(() -> "sock_diag query failed: " + t);
                return UNKNOWN;
            }
        }
    }

    /** nlmsghdr, then inet_diag_req_v2 for one TCP socket given by its addresses (ports and addresses big-endian). */
    private static void fill(MemorySegment m, int seq, int family, InetSocketAddress local, InetSocketAddress remote) {
        m.fill((byte) 0);
        m.set(ValueLayout.JAVA_INT, 0, REQUEST_BYTES);
        m.set(ValueLayout.JAVA_SHORT, 4, SOCK_DIAG_BY_FAMILY);
        m.set(ValueLayout.JAVA_SHORT, 6, NLM_F_REQUEST);
        m.set(ValueLayout.JAVA_INT, 8, seq);
        m.set(ValueLayout.JAVA_BYTE, 16, (byte) family);
        m.set(ValueLayout.JAVA_BYTE, 17, (byte) 6); // IPPROTO_TCP
        m.set(ValueLayout.JAVA_INT, 20, -1);        // any state
        m.set(BE16, 24, (short) local.getPort());
        m.set(BE16, 26, (short) remote.getPort());
        MemorySegment.copy(address(family, local), 0, m, ValueLayout.JAVA_BYTE, 28, 16);
        MemorySegment.copy(address(family, remote), 0, m, ValueLayout.JAVA_BYTE, 44, 16);
        m.set(ValueLayout.JAVA_INT, 64, -1);        // no socket cookie to check
        m.set(ValueLayout.JAVA_INT, 68, -1);
    }

    /** 16 bytes: an IPv4 address first then zeros, or IPv6, IPv4 mapped into IPv6 for an AF_INET6 socket. */
    private static byte[] address(int family, InetSocketAddress a) {
        byte[] raw = a.getAddress().getAddress();
        byte[] out = new byte[16];
        if (raw.length == 16) return raw;
        if (family == AF_INET) {
            System.arraycopy(raw, 0, out, 0, 4);
        } else {
            out[10] = out[11] = (byte) 0xff;
            System.arraycopy(raw, 0, out, 12, 4);
        }
        return out;
    }

    private static final MethodHandle SOCKET, SEND, RECV;

    static {
        MethodHandle socket = null, send = null, recv = null;
        if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                socket = linker.downcallHandle(libc.find("socket").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                FunctionDescriptor io = FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT);
                send = linker.downcallHandle(libc.find("send").orElseThrow(), io);
                recv = linker.downcallHandle(libc.find("recv").orElseThrow(), io);
            } catch (RuntimeException e) {
                socket = send = recv = null;
            }
        }
        SOCKET = socket;
        SEND = send;
        RECV = recv;
    }
}
