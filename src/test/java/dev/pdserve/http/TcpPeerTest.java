package dev.pdserve.http;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Locale;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The kernel's view of a client connection, on loopback sockets of both address families. */
public class TcpPeerTest {
    public static final boolean LINUX = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");

    @BeforeEach
    void linuxOnly() {
        assumeTrue(LINUX, "sock_diag is Linux's");
    }

    /** A server socket of the family (null: Java's default, dual-stack IPv6), one accepted client. */
    record Pair(ServerSocketChannel server, Socket client, SocketChannel accepted) implements AutoCloseable {
        static Pair open(StandardProtocolFamily family) throws Exception {
            ServerSocketChannel server = family == null ? ServerSocketChannel.open() : ServerSocketChannel.open(family);
            server.bind(new InetSocketAddress("127.0.0.1", 0));
            Socket client = new Socket("127.0.0.1", ((InetSocketAddress) server.getLocalAddress()).getPort());
            return new Pair(server, client, server.accept());
        }

        TcpPeer peer() throws Exception {
            return TcpPeer.of(accepted.getLocalAddress(), accepted.getRemoteAddress());
        }

        @Override
        public void close() throws Exception {
            client.close();
            accepted.close();
            server.close();
        }
    }

    @Test
    void closeIsSeenOnDualStackAndIpv4Sockets() throws Exception {
        for (StandardProtocolFamily family : new StandardProtocolFamily[] {null, StandardProtocolFamily.INET}) {
            try (Pair p = Pair.open(family)) {
                TcpPeer peer = p.peer();
                assertThat(peer).as("family %s", family).isNotSameAs(TcpPeer.UNWATCHED);
                assertThat(peer.closed()).isFalse();
                p.client.close();
                until("the kernel to report the connection closed", peer::closed);
            }
        }
    }

    @Test
    void resetAndHalfCloseAreSeen() throws Exception {
        try (Pair p = Pair.open(null)) {
            TcpPeer peer = p.peer();
            p.client.setSoLinger(true, 0);
            p.client.close();
            until("the kernel to report the connection closed", peer::closed);
        }
        try (Pair p = Pair.open(null)) {
            TcpPeer peer = p.peer();
            p.client.shutdownOutput();
            until("the kernel to report the connection closed", peer::closed);
        }
    }

    @Test
    void aConnectionTheKernelDoesNotKnowIsNeverClosed() throws Exception {
        try (Pair p = Pair.open(null)) {
            InetSocketAddress remote = (InetSocketAddress) p.accepted.getRemoteAddress();
            TcpPeer stranger = TcpPeer.of(p.accepted.getLocalAddress(), new InetSocketAddress(remote.getAddress(), remote.getPort() ^ 1));
            assertThat(stranger).isSameAs(TcpPeer.UNWATCHED);
            assertThat(stranger.closed()).isFalse();
        }
    }
}
