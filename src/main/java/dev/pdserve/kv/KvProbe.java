package dev.pdserve.kv;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;

/**
 * The prober's side of the KV handshake, for {@code pdserve doctor} (docs/kv-protocol.md, "Probe"):
 * asks a producer for its descriptor and, when both sides hold a cluster token, proves it the
 * way a consumer does, without being a consumer (no model, no cache): no blocks move, no lease
 * is touched. The token never travels.
 */
public final class KvProbe {
    private KvProbe() {}

    /** What the cluster-token exchange showed. */
    public enum Token {
        /** Both sides hold a token and each proved it holds the other's. */
        PROVED,
        /** Neither side has a token: transfers are unauthenticated, and consistently so. */
        NONE,
        /** The producer rejected the prober's proof: the tokens differ. */
        REJECTED,
        /** The producer accepted the prober's proof but its own proof was wrong (not the same token). */
        PRODUCER_PROOF_WRONG,
        /** The producer has a token, the prober none: consumers without one are refused. */
        ONLY_PRODUCER,
        /** The prober has a token, the producer none: consumers with one are refused. */
        ONLY_PROBER
    }

    /** The producer's descriptor (from its HELLO) and how the token exchange went; {@code detail} is the producer's words on a rejection. */
    public record Result(KvPeerInfo producer, Token token, String detail) {}

    /**
     * Probes the producer at {@code host:port}. {@code token} is the cluster token ("" for none),
     * {@code name} says who probes (in the producer's log).
     *
     * @throws IOException         unreachable, closed, timed out, or not speaking the KV protocol
     * @throws KvTransferException the producer answered ERROR to the probe (e.g. a build that predates PROBE),
     *                             or speaks another protocol version
     */
    public static Result probe(String host, int port, String token, String name, int timeoutMs) throws IOException, KvTransferException {
        try (SocketChannel sc = SocketChannel.open()) {
            sc.socket().connect(new InetSocketAddress(host, port), timeoutMs);
            sc.setOption(StandardSocketOptions.TCP_NODELAY, true);
            try (KvChannel c = new KvChannel(sc, "producer " + host + ":" + port, timeoutMs)) {
                Result r = exchange(c, token, name);
                bye(c);
                return r;
            }
        }
    }

    private static Result exchange(KvChannel c, String token, String name) throws IOException, KvTransferException {
        boolean haveToken = !token.isEmpty();
        byte[] nonceD = KvHandshake.nonce();
        c.start();
        c.putInt(KvHandshake.MAGIC).putInt(KvPeerInfo.PROTOCOL_VERSION).putString(name).putByte(haveToken ? 1 : 0).putBytes(nonceD);
        c.send(KvChannel.PROBE, "PROBE");
        KvChannel.Frame f = c.read("waiting for the producer's HELLO", false);
        if (f.type() == KvChannel.ERROR) throw new KvTransferException("the producer answered the probe with ERROR: " + f.string());
        KvHandshake.Hello h;
        try {
            h = KvHandshake.readHello(c, f);
        } catch (KvHandshake.Refused r) {
            throw new KvTransferException(r.getMessage());
        }
        if (!haveToken || !h.hasToken()) {
            Token t = haveToken ? Token.ONLY_PROBER : h.hasToken() ? Token.ONLY_PRODUCER : Token.NONE;
            return new Result(h.info(), t, "");
        }
        c.start();
        c.putBytes(KvHandshake.hmac(token, "probe", nonceD, h.nonce()));
        c.send(KvChannel.AUTH, "AUTH");
        KvChannel.Frame a = c.read("waiting for the producer's AUTH", false);
        if (a.type() == KvChannel.ERROR) {
            String why = a.string();
            if (why.startsWith("cluster token mismatch")) return new Result(h.info(), Token.REJECTED, why);
            throw new KvTransferException("the producer refused the probe: " + why);
        }
        if (a.type() != KvChannel.AUTH) throw new IOException("expected AUTH from " + c.peer + ", got " + KvChannel.name(a.type()));
        boolean good = MessageDigest.isEqual(a.bytes(), KvHandshake.hmac(token, "producer", nonceD, h.nonce()));
        return new Result(h.info(), good ? Token.PROVED : Token.PRODUCER_PROOF_WRONG, "");
    }

    private static void bye(KvChannel c) {
        try {
            c.start();
            c.send(KvChannel.BYE, "BYE");
        } catch (IOException ignored) {
            // the producer already closed (it refused us): nothing left to say
        }
    }
}
