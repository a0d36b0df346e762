package dev.pdserve.kv;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;

/**
 * The start of every connection (docs/kv-protocol.md): both sides send HELLO with their
 * {@link KvPeerInfo} and a fresh nonce, each checks the other's cache layout, then each proves it
 * holds the cluster token with HMAC-SHA256 over both nonces and its role. The token never travels.
 */
final class KvHandshake {
    static final int MAGIC = 0x50444B56; // "PDKV"
    static final int NONCE_BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();

    private KvHandshake() {}

    /** A side's refusal: sent to the other side as ERROR, then the connection closes. */
    static final class Refused extends Exception {
        Refused(String message) { super(message); }
    }

    /** Consumer side. Returns the producer's descriptor; throws {@link Refused} (already told the producer) or the producer's ERROR text. */
    static KvPeerInfo asConsumer(KvChannel c, KvPeerInfo local, String token) throws IOException, KvTransferException, Refused {
        byte[] nonceC = nonce();
        sendHello(c, local, !token.isEmpty(), nonceC);
        KvChannel.Frame f = c.read("waiting for the producer's HELLO", false);
        if (f.type() == KvChannel.ERROR) throw new KvTransferException("producer " + c.peer + " refused the handshake: " + f.string());
        Hello p = readHello(c, f);
        String why = KvPeerInfo.incompatibility(p.info, local);
        if (why == null) why = tokenPresence(p.hasToken, !token.isEmpty());
        if (why != null) throw refuse(c, why);
        if (!token.isEmpty()) {
            c.start();
            c.putBytes(hmac(token, "consumer", nonceC, p.nonce));
            c.send(KvChannel.AUTH, "AUTH");
            KvChannel.Frame a = c.read("waiting for the producer's AUTH", false);
            if (a.type() == KvChannel.ERROR) throw new KvTransferException("producer " + c.peer + " refused the handshake: " + a.string());
            if (a.type() != KvChannel.AUTH) throw new IOException("expected AUTH from " + c.peer + ", got " + KvChannel.name(a.type()));
            if (!MessageDigest.isEqual(a.bytes(), hmac(token, "producer", nonceC, p.nonce))) {
                throw refuse(c, "cluster token mismatch: the producer's HMAC proof does not match the consumer's cluster_token");
            }
        }
        c.remote = p.info;
        return p.info;
    }

    /** Producer side: reads the consumer's HELLO and answers it, see {@link #asProducer(KvChannel, KvChannel.Frame, KvPeerInfo, String)}. */
    static KvPeerInfo asProducer(KvChannel c, KvPeerInfo local, String token) throws IOException, Refused {
        return asProducer(c, c.read("waiting for the consumer's HELLO", false), local, token);
    }

    /** Producer side: answers a consumer's HELLO ({@code first}, already read); throws {@link Refused} after telling the consumer why. */
    static KvPeerInfo asProducer(KvChannel c, KvChannel.Frame first, KvPeerInfo local, String token) throws IOException, Refused {
        if (first.type() != KvChannel.HELLO) throw refuse(c, "expected HELLO, got " + KvChannel.name(first.type()));
        Hello h = readHello(c, first);
        String why = KvPeerInfo.incompatibility(local, h.info);
        if (why == null) why = tokenPresence(!token.isEmpty(), h.hasToken);
        if (why != null) throw refuse(c, why);
        byte[] nonceP = nonce();
        sendHello(c, local, !token.isEmpty(), nonceP);
        if (!token.isEmpty()) {
            KvChannel.Frame a = c.read("waiting for the consumer's AUTH", false);
            if (a.type() == KvChannel.ERROR) throw new Refused("consumer " + c.peer + " refused: " + a.string());
            if (a.type() != KvChannel.AUTH) throw refuse(c, "expected AUTH, got " + KvChannel.name(a.type()));
            if (!MessageDigest.isEqual(a.bytes(), hmac(token, "consumer", h.nonce, nonceP))) {
                throw refuse(c, "cluster token mismatch: the consumer's HMAC proof does not match the producer's cluster_token");
            }
            c.start();
            c.putBytes(hmac(token, "producer", h.nonce, nonceP));
            c.send(KvChannel.AUTH, "AUTH");
        }
        c.remote = h.info;
        return h.info;
    }

    /**
     * Producer side of a PROBE ({@code first}, already read) from {@code pdserve doctor}: answers with
     * this producer's HELLO without comparing descriptors (a prober has no model), then, when both
     * sides hold a token, the same HMAC proof as a consumer's under the role "probe". Returns the
     * prober's name; throws {@link Refused} after telling the prober why (a wrong token).
     */
    static String answerProbe(KvChannel c, KvChannel.Frame first, KvPeerInfo local, String token) throws IOException, Refused {
        if (first.i32() != MAGIC) throw refuse(c, "not a pdserve KV probe (bad PROBE magic)");
        first.i32(); // the prober's protocol version: comparing it with ours is the prober's job, so it needs our HELLO
        String name = first.string();
        boolean proberHasToken = first.u8() != 0;
        byte[] nonceD = first.bytes();
        if (nonceD.length != NONCE_BYTES) throw refuse(c, "PROBE nonce must be " + NONCE_BYTES + " bytes");
        byte[] nonceP = nonce();
        sendHello(c, local, !token.isEmpty(), nonceP);
        if (proberHasToken && !token.isEmpty()) {
            KvChannel.Frame a = c.read("waiting for the probe's AUTH", false);
            if (a.type() == KvChannel.BYE || a.type() == KvChannel.ERROR) return name; // the prober stopped there
            if (a.type() != KvChannel.AUTH) throw refuse(c, "expected AUTH, got " + KvChannel.name(a.type()));
            if (!MessageDigest.isEqual(a.bytes(), hmac(token, "probe", nonceD, nonceP))) {
                throw refuse(c, "cluster token mismatch: the probe's HMAC proof does not match the producer's cluster_token");
            }
            c.start();
            c.putBytes(hmac(token, "producer", nonceD, nonceP));
            c.send(KvChannel.AUTH, "AUTH");
        }
        return name;
    }

    record Hello(KvPeerInfo info, boolean hasToken, byte[] nonce) {}

    static void sendHello(KvChannel c, KvPeerInfo i, boolean hasToken, byte[] nonce) throws IOException {
        c.start();
        c.putInt(MAGIC).putInt(i.protocolVersion()).putString(i.engineId()).putString(i.bootId()).putString(i.modelFingerprint())
                .putString(i.kvLayout()).putString(i.dtype()).putInt(i.blockSize()).putInt(i.numLayers()).putInt(i.entryFloats())
                .putByte(hasToken ? 1 : 0).putBytes(nonce);
        c.send(KvChannel.HELLO, "HELLO");
    }

    static Hello readHello(KvChannel c, KvChannel.Frame f) throws IOException, Refused {
        if (f.type() != KvChannel.HELLO) throw new IOException("expected HELLO from " + c.peer + ", got " + KvChannel.name(f.type()));
        if (f.i32() != MAGIC) throw refuse(c, "not a pdserve KV transfer peer (bad HELLO magic)");
        int version = f.i32();
        if (version != KvPeerInfo.PROTOCOL_VERSION) {
            throw refuse(c, "protocol version mismatch: this side speaks " + KvPeerInfo.PROTOCOL_VERSION + ", peer " + version);
        }
        String engineId = f.string(), bootId = f.string(), fingerprint = f.string(), layout = f.string(), dtype = f.string();
        int blockSize = f.i32(), layers = f.i32(), entry = f.i32();
        KvPeerInfo info = new KvPeerInfo(version, engineId, bootId, fingerprint, blockSize, layout, dtype, layers, entry);
        boolean hasToken = f.u8() != 0;
        byte[] nonce = f.bytes();
        if (nonce.length != NONCE_BYTES) throw refuse(c, "HELLO nonce must be " + NONCE_BYTES + " bytes");
        return new Hello(info, hasToken, nonce);
    }

    private static String tokenPresence(boolean producerHas, boolean consumerHas) {
        if (producerHas == consumerHas) return null;
        return "cluster token mismatch: producer " + (producerHas ? "has a cluster_token" : "has none")
                + ", consumer " + (consumerHas ? "has a cluster_token" : "has none");
    }

    static Refused refuse(KvChannel c, String why) {
        try {
            c.sendError(why);
        } catch (IOException ignored) {
            // the other side is gone; the refusal still stands on this side
        }
        return new Refused(why);
    }

    static byte[] nonce() {
        byte[] b = new byte[NONCE_BYTES];
        RANDOM.nextBytes(b);
        return b;
    }

    static byte[] hmac(String token, String role, byte[] nonceConsumer, byte[] nonceProducer) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(token.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update(("pdserve-kv-v1 " + role).getBytes(StandardCharsets.UTF_8));
            mac.update(nonceConsumer);
            mac.update(nonceProducer);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }
}
