package dev.pdserve.kv;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.pdserve.Await.until;
import static dev.pdserve.kv.KvTestSupport.config;
import static dev.pdserve.kv.KvTestSupport.PROMPT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The doctor's PROBE against real producers on loopback: descriptor and token proof, and nothing else happens. */
class KvProbeTest {
    private static final String TOKEN = "\"cluster_token\":\"s3cret-token\"";

    private static KvProbe.Result probe(int port, String token) throws Exception {
        return KvProbe.probe("127.0.0.1", port, token, "test prober", 2000);
    }

    @Test
    void theRightTokenIsProvedBothWaysAndNoLeaseIsTouched() throws Exception {
        try (TinyProducer p = TinyProducer.start("prefill-0", 16, TOKEN);
             KvTestSupport.CountingRelay relay = new KvTestSupport.CountingRelay(p.port())) {
            AtomicInteger freed = new AtomicInteger();
            p.producer.lease("r", new int[]{1, 2}, PROMPT, freed::incrementAndGet);

            KvProbe.Result r = probe(relay.port(), "s3cret-token");

            assertThat(r.token()).isEqualTo(KvProbe.Token.PROVED);
            assertThat(r.producer()).isEqualTo(p.producer.info());
            until("the producer to count the probe", () -> p.producer.probesAnswered() == 1);
            assertThat(p.producer.isLeased("r")).isTrue();
            assertThat(p.producer.blocksLeased()).isEqualTo(2);
            assertThat(p.producer.bytesSent()).isZero();
            assertThat(p.producer.handshakesRefused()).isZero();
            assertThat(freed.get()).isZero();
            assertThat(new String(relay.seen(), StandardCharsets.ISO_8859_1)).as("the token never travels")
                    .contains("prefill-0").doesNotContain("s3cret-token");

            // The probe left the producer as it was: a real consumer still pulls and releases the lease.
            KvPeerInfo cInfo = TinyProducer.descriptor("decode-0", 16);
            try (var cCache = KvTestSupport.cache(cInfo, 4); KvConsumer consumer = new KvConsumer(config("kv_consumer", TOKEN), cInfo)) {
                consumer.pull("127.0.0.1", p.port(), "prefill-0", "r", new int[]{1, 2}, PROMPT, cCache, new int[]{0, 3});
            }
            assertThat(freed.get()).isEqualTo(1);
            assertThat(p.producer.transfersCompleted()).isEqualTo(1);
        }
    }

    @Test
    void aWrongTokenIsRejectedButTheDescriptorIsStillRead() throws Exception {
        try (TinyProducer p = TinyProducer.start("prefill-0", 16, TOKEN)) {
            p.producer.lease("r", new int[]{1}, PROMPT, () -> { });
            KvProbe.Result r = probe(p.port(), "another-token");

            assertThat(r.token()).isEqualTo(KvProbe.Token.REJECTED);
            assertThat(r.detail()).isEqualTo("cluster token mismatch: the probe's HMAC proof does not match the producer's cluster_token");
            assertThat(r.producer().blockSize()).isEqualTo(16);
            until("the producer to count the refusal", () -> p.producer.handshakesRefused() == 1);
            assertThat(p.producer.probesAnswered()).isZero();
            assertThat(p.producer.isLeased("r")).isTrue();
        }
    }

    @Test
    void aTokenOnOneSideOnlyIsReportedAndTheDescriptorIsNotCompared() throws Exception {
        try (TinyProducer withToken = TinyProducer.start("p-token", 32, TOKEN);
             TinyProducer without = TinyProducer.start("p-none", 16, "")) {
            KvProbe.Result a = probe(withToken.port(), "");
            assertThat(a.token()).isEqualTo(KvProbe.Token.ONLY_PRODUCER);
            assertThat(a.producer().blockSize()).as("a consumer with block size 16 would be refused; a probe is not").isEqualTo(32);
            assertThat(probe(without.port(), "s3cret-token").token()).isEqualTo(KvProbe.Token.ONLY_PROBER);
            assertThat(probe(without.port(), "").token()).isEqualTo(KvProbe.Token.NONE);
            until("both producers to count their probes", () -> withToken.producer.probesAnswered() == 1 && without.producer.probesAnswered() == 2);
        }
    }

    @Test
    void aProducerThatCannotProveTheTokenIsCaught() throws Exception {
        // An impostor on the KV port: claims a token, accepts any proof, answers with a proof made from another token.
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            CompletableFuture<String> impostor = CompletableFuture.supplyAsync(() -> {
                try (KvChannel c = new KvChannel(server.accept(), "prober", 2000)) {
                    KvChannel.Frame probe = c.read("PROBE", false);
                    String type = KvChannel.name(probe.type());
                    KvHandshake.sendHello(c, TinyProducer.descriptor("impostor", 16), true, new byte[32]);
                    c.read("AUTH", false);
                    c.start();
                    c.putBytes(KvHandshake.hmac("other-token", "producer", new byte[32], new byte[32]));
                    c.send(KvChannel.AUTH, "AUTH");
                    return type + " then " + KvChannel.name(c.read("BYE", false).type());
                } catch (Exception e) {
                    return e.toString();
                }
            });
            KvProbe.Result r = probe(port, "s3cret-token");
            assertThat(r.token()).isEqualTo(KvProbe.Token.PRODUCER_PROOF_WRONG);
            assertThat(r.producer().engineId()).isEqualTo("impostor");
            assertThat(impostor.get(5, TimeUnit.SECONDS)).isEqualTo("PROBE then BYE");
        }
    }

    @Test
    void aProducerThatDoesNotKnowProbeAnswersWithItsError() throws Exception {
        // What a producer built before PROBE existed does with one: ERROR "expected HELLO", then close.
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            CompletableFuture<Void> old = CompletableFuture.runAsync(() -> {
                try (KvChannel c = new KvChannel(server.accept(), "consumer", 2000)) {
                    c.read("HELLO", false);
                    c.sendError("expected HELLO, got type-9");
                } catch (Exception ignored) {
                    // the test checks the prober's side
                }
            });
            assertThatThrownBy(() -> probe(port, "")).isInstanceOf(KvTransferException.class)
                    .hasMessage("the producer answered the probe with ERROR: expected HELLO, got type-9");
            old.get(5, TimeUnit.SECONDS);
        }
    }
}
