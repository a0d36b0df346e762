package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.ManualClock;
import dev.pdserve.TestModels;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.engine.EngineException;
import dev.pdserve.engine.FinishReason;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.engine.RequestOutput;
import dev.pdserve.engine.SamplingParams;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Two engines in one JVM joined by {@link PdTcpConnector} over loopback TCP: the prefill engine
 * leases a prompt's blocks, the decode engine pulls them and continues. Greedy output equals a
 * colocated engine's token for token; no block leaks on any path. Producers' leases run by a
 * {@link ManualClock}: one expires only when a test moves the clock past it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PdEngineTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private CausalLM model;
    private Tokenizer tokenizer;
    private String fingerprint;
    private final List<Engine> engines = new ArrayList<>();
    private ManualClock leaseClock;

    @BeforeEach
    void newClock() { leaseClock = new ManualClock(); }

    @BeforeAll
    void load() {
        model = ModelLoader.load(TestModels.deepseek(), LoadOptions.defaults());
        tokenizer = Tokenizer.load(TestModels.deepseek());
        fingerprint = ModelFingerprint.of(TestModels.deepseek());
    }

    @AfterAll
    void unload() {
        model.close();
        tokenizer.close();
    }

    @AfterEach
    void noBlockLeaked() throws Exception {
        List<Engine> all = List.copyOf(engines);
        engines.clear();
        try {
            for (Engine e : all) {
                e.drain();
                try {
                    until("engine " + all.indexOf(e) + " to free its KV blocks", () -> e.stats().numBlocksUsed() == 0 && leased(e) == 0);
                } catch (AssertionError timedOut) {
                    // the assertions below say what is left
                }
                assertThat(e.stats().numBlocksUsed()).as("KV blocks still in use in engine " + all.indexOf(e) + ", leased " + leased(e)).isZero();
                assertThat(leased(e)).as("KV blocks still leased").isZero();
            }
        } finally {
            all.forEach(Engine::close);
        }
    }

    private static long leased(Engine e) { return e.kvStats() == null ? 0 : e.kvStats().blocksLeased(); }

    private Engine engine(String kvConfig, int blockSize) {
        long bytes = 256 * PagedKvCache.blockBytes(model.numLayers(), blockSize, model.kvEntryFloats());
        EngineConfig c = EngineConfig.defaults(1024).withBlockSize(blockSize).withKvCacheBytes(bytes).withMaxNumSeqs(64);
        Engine e = kvConfig == null ? new Engine(model, tokenizer, c) : new Engine(model, tokenizer, c, cache -> {
            KvTransferConfig cfg = KvTransferConfig.parse(kvConfig);
            return new PdTcpConnector(cfg, KvPeerInfo.of(cfg.engineId(), model, blockSize, fingerprint), cache, "127.0.0.1", leaseClock);
        });
        engines.add(e);
        return e;
    }

    private static String config(String role, String extra) {
        return "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"" + role + "\",\"kv_port\":0" + extra + "}";
    }

    static SamplingParams greedy(int max) {
        return SamplingParams.builder().temperature(0).maxTokens(max).minTokens(max).ignoreEos(true).build();
    }

    static final class Sink implements dev.pdserve.engine.OutputSink {
        final List<RequestOutput> outputs = new ArrayList<>();
        final CompletableFuture<RequestOutput> last = new CompletableFuture<>();

        @Override
        public synchronized void accept(RequestOutput o) {
            outputs.add(o);
            if (o.finished()) last.complete(o);
        }

        RequestOutput await() throws Exception { return last.get(60, TimeUnit.SECONDS); }

        synchronized int[] tokens() {
            return outputs.stream().flatMapToInt(o -> Arrays.stream(o.newTokenIds())).toArray();
        }
    }

    private static Sink run(Engine e, String id, int[] prompt, int max, JsonNode kv) throws Exception {
        Sink s = new Sink();
        e.submit(new GenerationRequest(id, prompt, greedy(max), kv), s);
        s.await();
        return s;
    }

    private int[] prompt(String text) { return tokenizer.encode(text, true); }

    /** Prefill on P (max_tokens 1), decode on D with the returned params: same tokens as colocated. */
    private int[] disaggregated(Engine p, Engine d, String id, int[] prompt, int max) throws Exception {
        RequestOutput pre = run(p, id + "-p", prompt, 1, JSON.readTree("{\"do_remote_decode\":true}")).await();
        assertThat(pre.kvTransferParams()).as("prefill answer's kv_transfer_params").isNotNull();
        assertThat(pre.kvTransferParams().get("do_remote_prefill").asBoolean()).isTrue();
        assertThat(pre.kvTransferParams().get("num_computed_tokens").asInt()).isEqualTo(prompt.length);
        Sink s = run(d, id + "-d", prompt, max, pre.kvTransferParams());
        assertThat(s.await().finishReason()).as(String.valueOf(s.await().error())).isEqualTo(FinishReason.LENGTH);
        return s.tokens();
    }

    @Test
    void disaggregatedEqualsColocatedAndFreesEverything() throws Exception {
        Engine colocated = engine(null, 16);
        Engine p = engine(config("kv_producer", ""), 16);
        Engine d = engine(config("kv_consumer", ""), 16);
        String shared = "The quick brown fox jumps over the lazy dog. ".repeat(4);
        for (String text : List.of("def fib(n):", shared + "Once", shared + "Twice upon a time", "x")) {
            int[] ids = prompt(text);
            int[] want = run(colocated, "c", ids, 12, null).tokens();
            assertThat(disaggregated(p, d, "r" + text.length(), ids, 12)).as(text).containsExactly(want);
        }
        KvConnector_Stats stats = new KvConnector_Stats(d);
        assertThat(stats.received()).isPositive();
        // the decode side pulled exactly the prompts' blocks: blocks x block size x entry floats x 4 x layers
        long perBlock = PagedKvCache.blockBytes(model.numLayers(), 16, model.kvEntryFloats());
        long blocks = 0;
        for (String text : List.of("def fib(n):", shared + "Once", shared + "Twice upon a time", "x")) blocks += (prompt(text).length + 15) / 16;
        assertThat(stats.received()).isEqualTo(blocks * perBlock);
    }

    /** A prefix-cached block shared by two leased prompts stays valid: both pulls decode right. */
    @Test
    void sharedPrefixBlocksStayValidWhileLeased() throws Exception {
        Engine colocated = engine(null, 16);
        Engine p = engine(config("kv_producer", ""), 16);
        Engine d = engine(config("kv_consumer", ""), 16);
        String shared = "In a hole in the ground there lived a hobbit. ".repeat(3);
        int[] a = prompt(shared + "Alpha"), b = prompt(shared + "Beta beta");
        RequestOutput pa = run(p, "a", a, 1, JSON.readTree("{\"do_remote_decode\":true}")).await();
        RequestOutput pb = run(p, "b", b, 1, JSON.readTree("{\"do_remote_decode\":true}")).await();
        assertThat(pb.cachedPromptTokens()).as("b reuses a's prefix blocks").isPositive();
        assertThat(pa.kvTransferParams().get("remote_block_ids").get(0)).isEqualTo(pb.kvTransferParams().get("remote_block_ids").get(0));
        assertThat(run(d, "db", b, 8, pb.kvTransferParams()).tokens()).containsExactly(run(colocated, "cb", b, 8, null).tokens());
        // a's lease still holds the shared block after b's lease was released
        assertThat(run(d, "da", a, 8, pa.kvTransferParams()).tokens()).containsExactly(run(colocated, "ca", a, 8, null).tokens());
    }

    @Test
    void wrongClusterTokenFailsOrRecomputes() throws Exception {
        Engine colocated = engine(null, 16);
        Engine p = engine(config("kv_producer", ",\"kv_connector_extra_config\":{\"cluster_token\":\"right\"}"), 16);
        Engine fail = engine(config("kv_consumer", ",\"kv_connector_extra_config\":{\"cluster_token\":\"wrong\"}"), 16);
        Engine recompute = engine(config("kv_consumer", ",\"kv_load_failure_policy\":\"recompute\",\"kv_connector_extra_config\":{\"cluster_token\":\"wrong\"}"), 16);
        int[] ids = prompt("Hello, my name is");
        RequestOutput pre = run(p, "p1", ids, 1, JSON.readTree("{\"do_remote_decode\":true}")).await();
        RequestOutput failed = run(fail, "f", ids, 8, pre.kvTransferParams()).await();
        assertThat(failed.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(failed.errorStatus()).isEqualTo(502);
        assertThat(failed.error()).contains("127.0.0.1:").contains("cluster token");
        RequestOutput pre2 = run(p, "p2", ids, 1, JSON.readTree("{\"do_remote_decode\":true}")).await();
        Sink ok = run(recompute, "r", ids, 8, pre2.kvTransferParams());
        assertThat(ok.await().finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(ok.tokens()).containsExactly(run(colocated, "c", ids, 8, null).tokens());
        // The refused pulls left both leases in place; they run out like any unclaimed lease.
        assertThat(p.kvStats().blocksLeased()).isEqualTo(2L * pre.kvTransferParams().get("remote_block_ids").size());
        leaseClock.advance(Duration.ofSeconds(KvTransferConfig.DEFAULT_LEASE_SECONDS));
        assertThat(p.kvStats().leasesExpired()).isEqualTo(2);
    }

    @Test
    void unclaimedLeaseExpires() throws Exception {
        Engine p = engine(config("kv_producer", ",\"kv_connector_extra_config\":{\"lease_seconds\":2}"), 16);
        RequestOutput pre = run(p, "p", prompt("Nobody pulls this one"), 1, JSON.readTree("{\"do_remote_decode\":true}")).await();
        assertThat(pre.kvTransferParams()).isNotNull();
        leaseClock.advance(Duration.ofMillis(1999));
        assertThat(p.kvStats().blocksLeased()).isPositive();
        assertThat(p.stats().numBlocksUsed()).isPositive();
        leaseClock.advance(Duration.ofMillis(1));
        assertThat(p.kvStats().blocksLeased()).isZero();
        assertThat(p.kvStats().leasesExpired()).isEqualTo(1);
        until("the engine to free the expired lease's blocks", () -> p.stats().numBlocksUsed() == 0);
    }

    @Test
    void badParamsAreRefusedAtSubmit() throws Exception {
        Engine p = engine(config("kv_producer", ""), 16);
        Engine d = engine(config("kv_consumer", ""), 32);
        int[] ids = prompt("Hello, my name is");
        JsonNode kv = run(p, "p", ids, 1, JSON.readTree("{\"do_remote_decode\":true}")).await().kvTransferParams();
        assertThatThrownBy(() -> d.submit(new GenerationRequest("d", ids, greedy(4), kv), new Sink()))
                .isInstanceOfSatisfying(EngineException.class, e -> assertThat(e.status).isEqualTo(400))
                .hasMessageContaining("block size mismatch: producer 16, consumer 32");
        assertThatThrownBy(() -> d.submit(new GenerationRequest("d", ids, greedy(4), JSON.readTree("{\"do_remote_prefill\":true,\"remote_host\":\"h\"}")), new Sink()))
                .isInstanceOfSatisfying(EngineException.class, e -> assertThat(e.param).isEqualTo("kv_transfer_params.remote_port"));
        assertThatThrownBy(() -> p.submit(new GenerationRequest("x", ids, greedy(4), kv), new Sink()))
                .isInstanceOfSatisfying(EngineException.class, e -> assertThat(e.param).isEqualTo("kv_transfer_params.do_remote_prefill"));
        // the refused requests left the lease alone: a matching consumer still pulls it
        Engine d16 = engine(config("kv_consumer", ""), 16);
        assertThat(run(d16, "ok", ids, 2, kv).await().finishReason()).isEqualTo(FinishReason.LENGTH);
    }

    /** A fake producer on loopback that accepts connections and never answers; the test closes them when it wants a pull to end. */
    private static final class SilentProducer implements AutoCloseable {
        final ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        final LinkedBlockingQueue<Socket> accepted = new LinkedBlockingQueue<>();

        SilentProducer() throws java.io.IOException {
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) accepted.add(server.accept());
                } catch (java.io.IOException closed) {
                    // the test is done
                }
            });
        }

        /** The next consumer connection, once it is open. */
        Socket next() throws InterruptedException {
            Socket s = accepted.poll(dev.pdserve.Await.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(s).as("the consumer connected").isNotNull();
            return s;
        }

        @Override
        public void close() throws java.io.IOException {
            server.close();
            for (Socket s : accepted) s.close();
        }
    }

    /**
     * A pull from a producer that never answers. An abort meanwhile answers ABORT at once but keeps
     * the local blocks while the pull still writes into them; they are freed when the pull ends
     * (here: the producer hangs up). Without the abort, the pull times out after read_timeout_ms
     * and policy fail ends the request with a 502 error naming the producer.
     */
    @Test
    void abortDuringPullFreesBlocksWhenThePullEnds() throws Exception {
        try (SilentProducer silent = new SilentProducer()) {
            Engine d = engine(config("kv_consumer", ""), 16); // read_timeout_ms 30 s: only the test ends the pull
            int[] ids = prompt("A pull that never finishes");
            int blocks = (ids.length + 15) / 16;
            KvPeerInfo fake = KvPeerInfo.of("silent-engine", model, 16, fingerprint);
            JsonNode kv = JSON.valueToTree(KvTransferParams.remotePrefill(fake, "127.0.0.1", silent.server.getLocalPort(), "remote-1",
                    new int[blocks], ids.length));

            Sink aborted = new Sink();
            d.submit(new GenerationRequest("aborted", ids, greedy(4), kv), aborted);
            until("blocks allocated for the pull", () -> d.stats().numBlocksUsed() == blocks);
            Socket pull = silent.next();
            d.abort("aborted");
            assertThat(aborted.await().finishReason()).isEqualTo(FinishReason.ABORT);
            assertThat(d.stats().numBlocksUsed()).as("the running pull still writes into them").isEqualTo(blocks);
            pull.close();
            until("the blocks to be freed when the pull ended", () -> d.stats().numBlocksUsed() == 0);

            Engine timesOut = engine(config("kv_consumer", ",\"kv_connector_extra_config\":{\"read_timeout_ms\":200}"), 16);
            RequestOutput failed = run(timesOut, "failed", ids, 4, kv).await();
            assertThat(failed.finishReason()).isEqualTo(FinishReason.ERROR);
            assertThat(failed.errorStatus()).isEqualTo(502);
            assertThat(failed.error()).contains("127.0.0.1:" + silent.server.getLocalPort()).contains("timed out");
        }
    }

    /** kv_both serves either side per request: here it pulls its own prompt back over loopback. */
    @Test
    void kvBothProducesAndConsumes() throws Exception {
        Engine colocated = engine(null, 16);
        Engine both = engine(config("kv_both", ""), 16);
        int[] ids = prompt("Both roles in one instance");
        assertThat(disaggregated(both, both, "both", ids, 6)).containsExactly(run(colocated, "c", ids, 6, null).tokens());
    }

    @Test
    void advertisedHostIsReachable() {
        assertThat(PdTcpConnector.advertisedHost("10.1.2.3", "0.0.0.0")).isEqualTo("10.1.2.3");
        assertThat(PdTcpConnector.advertisedHost("0.0.0.0", "192.168.7.7")).isEqualTo("192.168.7.7");
        assertThat(PdTcpConnector.advertisedHost("0.0.0.0", "0.0.0.0")).isNotBlank().isNotEqualTo("0.0.0.0");
    }

    /** Reads the consumer's received bytes through the engine. */
    private record KvConnector_Stats(Engine e) {
        long received() { return e.kvStats().bytesReceived(); }
    }
}
