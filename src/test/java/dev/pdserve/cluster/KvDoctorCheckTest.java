package dev.pdserve.cluster;

import dev.pdserve.Await;
import dev.pdserve.TestModels;
import dev.pdserve.kv.KvPeerInfo;
import dev.pdserve.kv.ModelFingerprint;
import dev.pdserve.kv.TinyProducer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.pdserve.cluster.CheckResult.Status.FAIL;
import static dev.pdserve.cluster.CheckResult.Status.PASS;
import static dev.pdserve.cluster.CheckResult.Status.SKIP;
import static org.assertj.core.api.Assertions.assertThat;

/** The doctor's kv_handshake and kv_agree rows, from real producers on loopback and a cluster.json written here. */
class KvDoctorCheckTest {
    @TempDir Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();
    private int fakeHttpPort = 41000;

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open) c.close();
    }

    private TinyProducer producer(String id, int blockSize, String token) throws Exception {
        TinyProducer p = TinyProducer.start(id, blockSize, token == null ? "" : "\"cluster_token\":\"" + token + "\"");
        open.add(p);
        return p;
    }

    private String entry(String id, int kvPort) {
        return "{\"id\":\"" + id + "\",\"role\":\"kv_producer\",\"host\":\"127.0.0.1\",\"http_port\":" + (fakeHttpPort++) + ",\"kv_port\":" + kvPort + "}";
    }

    /** A cluster with these producer entries and one decoder; {@code extra} adds top-level fields such as the token file. */
    private ClusterSpec cluster(String extra, String... producers) {
        String decoder = "{\"id\":\"decode-0\",\"role\":\"kv_consumer\",\"host\":\"127.0.0.1\",\"http_port\":40999,\"kv_port\":40998}";
        return ClusterSpec.parse("{\"schema_version\":1," + extra + "\"proxy\":{\"host\":\"127.0.0.1\",\"port\":40997},\"instances\":["
                + String.join(",", producers) + "," + decoder + "]}", "test.json");
    }

    private String tokenFile(String token) throws Exception {
        Path f = dir.resolve("token-" + token);
        Files.writeString(f, token + "\n");
        return "\"cluster_token_file\":\"" + f + "\",";
    }

    private static List<CheckResult> check(ClusterSpec spec) {
        return new KvDoctorCheck().check(spec, spec.prefillers(), Duration.ofMillis(2000));
    }

    private static CheckResult row(List<CheckResult> rows, String instance, String check) {
        return rows.stream().filter(r -> r.instance().equals(instance) && r.check().equals(check)).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + instance + "/" + check + " in " + rows));
    }

    @Test
    void theRightTokenPassesWithTheDescriptorAndTheModelFolderMatches() throws Exception {
        TinyProducer p = producer("prefill-0", 16, "s3cret");
        ClusterSpec spec = cluster(tokenFile("s3cret") + "\"model\":\"" + TestModels.llama() + "\",", entry("prefill-0", p.port()));
        List<CheckResult> rows = check(spec);

        CheckResult hs = row(rows, "prefill-0", "kv_handshake");
        assertThat(hs.status()).as(hs.toString()).isEqualTo(PASS);
        KvPeerInfo i = p.producer.info();
        assertThat(hs.detail()).isEqualTo("cluster token accepted (HMAC proof both ways); engine prefill-0, model " + i.modelFingerprint()
                + ", block size 16, layout " + i.kvLayout() + ", dtype " + i.dtype() + ", " + i.numLayers() + " layers x " + i.entryFloats()
                + " floats, protocol " + KvPeerInfo.PROTOCOL_VERSION);
        CheckResult agree = row(rows, "prefill-0", "kv_agree");
        assertThat(agree.status()).isEqualTo(PASS);
        assertThat(agree.detail()).contains("(the only producer); matches the model folder " + TestModels.llama());
        assertThat(rows).hasSize(2);
    }

    @Test
    void aWrongTokenFailsWithTheFix() throws Exception {
        TinyProducer p = producer("prefill-0", 16, "s3cret");
        ClusterSpec spec = cluster(tokenFile("not-the-token"), entry("prefill-0", p.port()));
        CheckResult hs = row(check(spec), "prefill-0", "kv_handshake");

        assertThat(hs.status()).isEqualTo(FAIL);
        assertThat(hs.detail()).startsWith("cluster token mismatch: prefill-0 rejected the proof made with " + dir.resolve("token-not-the-token"))
                .contains("block size 16").doesNotContain("s3cret");
        assertThat(hs.fix()).startsWith("use the same cluster_token_file on every instance");
        // The producer counts the refusal after sending it, so the probe may return first.
        Await.until("the producer to count the refusal", () -> p.producer.handshakesRefused() > 0);
        assertThat(p.producer.handshakesRefused()).isEqualTo(1);
    }

    @Test
    void aTokenTheClusterFileDoesNotNameOrThisNodeCannotReadFails() throws Exception {
        TinyProducer p = producer("prefill-0", 16, "s3cret");
        CheckResult none = row(check(cluster("", entry("prefill-0", p.port()))), "prefill-0", "kv_handshake");
        assertThat(none.status()).isEqualTo(FAIL);
        assertThat(none.detail()).startsWith("cluster token mismatch: prefill-0 requires a cluster token but the cluster file names no cluster_token_file");
        assertThat(none.fix()).contains("--cluster-token-file PATH");

        String missing = dir.resolve("nowhere.token").toString();
        CheckResult unreadable = row(check(cluster("\"cluster_token_file\":\"" + missing + "\",", entry("prefill-0", p.port()))), "prefill-0", "kv_handshake");
        assertThat(unreadable.status()).isEqualTo(FAIL);
        assertThat(unreadable.detail()).startsWith("cannot read cluster_token_file " + missing + " on this node");
        assertThat(unreadable.fix()).isEqualTo("copy the cluster token to " + missing + " on this node (every node needs it there), or pass --cluster-token-file PATH");
    }

    @Test
    void twoProducersWithDifferentBlockSizesBothFailNamingBothValues() throws Exception {
        TinyProducer a = producer("prefill-0", 16, null), b = producer("prefill-1", 32, null);
        List<CheckResult> rows = check(cluster("", entry("prefill-0", a.port()), entry("prefill-1", b.port())));

        assertThat(row(rows, "prefill-0", "kv_handshake").status()).isEqualTo(PASS);
        assertThat(row(rows, "prefill-0", "kv_handshake").detail()).startsWith("no cluster token on the producer nor in the cluster file");
        CheckResult a16 = row(rows, "prefill-0", "kv_agree"), b32 = row(rows, "prefill-1", "kv_agree");
        assertThat(a16.status()).isEqualTo(FAIL);
        assertThat(a16.detail()).isEqualTo("block size 16, but prefill-1 has 32");
        assertThat(a16.fix()).isEqualTo("start every instance with the same --block-size (prefill-0 has 16, prefill-1 has 32)");
        assertThat(b32.status()).isEqualTo(FAIL);
        assertThat(b32.detail()).isEqualTo("block size 32, but prefill-0 has 16");
        assertThat(rows).extracting(CheckResult::instance).containsExactly("prefill-0", "prefill-0", "prefill-1", "prefill-1");
    }

    @Test
    void theOddProducerOutFailsAgainstTheMajority() throws Exception {
        TinyProducer a = producer("prefill-0", 16, null), b = producer("prefill-1", 16, null), c = producer("prefill-2", 32, null);
        List<CheckResult> rows = check(cluster("", entry("prefill-0", a.port()), entry("prefill-1", b.port()), entry("prefill-2", c.port())));

        assertThat(row(rows, "prefill-0", "kv_agree").status()).isEqualTo(PASS);
        assertThat(row(rows, "prefill-0", "kv_agree").detail()).contains("(as most of the 3 producers)");
        CheckResult odd = row(rows, "prefill-2", "kv_agree");
        assertThat(odd.status()).isEqualTo(FAIL);
        assertThat(odd.detail()).isEqualTo("block size 32, but prefill-0, prefill-1 have 16");
        assertThat(odd.fix()).isEqualTo("start every instance with the same --block-size (prefill-2 has 32, cluster majority 16)");
    }

    @Test
    void aProducerServingAnotherModelThanTheClusterFolderFails() throws Exception {
        TinyProducer p = producer("prefill-0", 16, null);
        String deepseek = ModelFingerprint.of(TestModels.deepseek());
        List<CheckResult> rows = check(cluster("\"model\":\"" + TestModels.deepseek() + "\",", entry("prefill-0", p.port())));

        CheckResult agree = row(rows, "prefill-0", "kv_agree");
        assertThat(agree.status()).isEqualTo(FAIL);
        assertThat(agree.detail()).isEqualTo("model fingerprint " + p.producer.info().modelFingerprint() + ", but the model folder "
                + TestModels.deepseek() + " (cluster file) is " + deepseek);
        assertThat(agree.fix()).startsWith("serve the cluster file's model folder " + TestModels.deepseek() + " on every instance");
    }

    @Test
    void aSingleProducerWithoutAModelFolderHasNothingToCompare() throws Exception {
        TinyProducer p = producer("prefill-0", 16, null);
        CheckResult agree = row(check(cluster("\"model\":\"" + dir.resolve("absent") + "\",", entry("prefill-0", p.port()))), "prefill-0", "kv_agree");
        assertThat(agree.status()).isEqualTo(SKIP);
        assertThat(agree.detail()).isEqualTo("only one producer answered and model folder " + dir.resolve("absent")
                + " is not on this node: nothing to compare its descriptor with");
    }

    @Test
    void aSilentKvPortTimesOutWithinTheDoctorTimeout() throws Exception {
        try (ServerSocketChannel silent = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            int port = ((InetSocketAddress) silent.getLocalAddress()).getPort();
            ClusterSpec spec = cluster("", entry("prefill-0", port));
            long t0 = System.nanoTime();
            List<CheckResult> rows = new KvDoctorCheck().check(spec, spec.prefillers(), Duration.ofMillis(300));
            assertThat((System.nanoTime() - t0) / 1e6).isLessThan(3000);
            CheckResult hs = row(rows, "prefill-0", "kv_handshake");
            assertThat(hs.status()).isEqualTo(FAIL);
            assertThat(hs.detail()).isEqualTo("no KV HELLO from 127.0.0.1:" + port + " within 300 ms");
            assertThat(hs.fix()).startsWith("the instance is stuck or overloaded");
            assertThat(rows).hasSize(1);
        }
    }

    @Test
    void somethingElseOnTheKvPortFails() throws Exception {
        // A listener that accepts and closes (another service, or a half-dead process).
        try (ServerSocketChannel other = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            Thread.ofVirtual().start(() -> {
                try {
                    other.accept().close();
                } catch (Exception ignored) {
                    // closed by the test
                }
            });
            int port = ((InetSocketAddress) other.getLocalAddress()).getPort();
            CheckResult hs = row(check(cluster("", entry("prefill-0", port))), "prefill-0", "kv_handshake");
            assertThat(hs.status()).isEqualTo(FAIL);
            assertThat(hs.detail()).isEqualTo("127.0.0.1:" + port + " accepted the connection but closed it without a KV HELLO: not a pdserve KV producer");
            assertThat(hs.fix()).startsWith("check that kv_port " + port + " in the cluster file is the port of prefill-0's --kv-transfer-config");
        }
    }
}
