package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.ManualClock;
import dev.pdserve.TestModels;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.proxy.InstanceAddress;
import dev.pdserve.proxy.ProxyConfig;
import dev.pdserve.proxy.ProxyServer;
import dev.pdserve.server.OpenAiServer;
import dev.pdserve.server.TextCodec;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code n > 1} through PD disaggregation over real HTTP: a prefill instance, a decode instance and
 * a colocated one (the reference), on the golden tiny model. The prompt is prefilled once; the
 * decode instance pulls it once and its n samples share the pulled blocks. Both request flows:
 * {@code pdserve proxy}'s, and vllm-ascend's load-balance proxy's (the client request with
 * max_tokens 1, min_tokens 1 and {@code do_remote_decode} to prefill, n kept; then the client
 * request with the returned params to decode). Answers equal the colocated instance's.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PdParallelSamplingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private CausalLM model;
    private Tokenizer tokenizer;
    private final List<AutoCloseable> open = new ArrayList<>();
    private Engine prefill, decode, colocated;
    private OpenAiServer prefillServer, decodeServer, colocatedServer;
    private ProxyServer proxy;

    @BeforeAll
    void start() {
        model = ModelLoader.load(TestModels.deepseek(), LoadOptions.defaults());
        tokenizer = Tokenizer.load(TestModels.deepseek());
        String fingerprint = ModelFingerprint.of(TestModels.deepseek());
        EngineConfig c = EngineConfig.defaults(1024).withKvCacheBytes(32L << 20).withMaxNumSeqs(16);
        ManualClock leases = new ManualClock();
        prefill = new Engine(model, tokenizer, c, cache -> connector("kv_producer", fingerprint, cache, leases));
        decode = new Engine(model, tokenizer, c, cache -> connector("kv_consumer", fingerprint, cache, leases));
        colocated = new Engine(model, tokenizer, c);
        prefillServer = server(prefill);
        decodeServer = server(decode);
        colocatedServer = server(colocated);
        proxy = ProxyServer.start(new ProxyConfig().host("127.0.0.1").port(0)
                .prefillers(List.of(new InstanceAddress("127.0.0.1", prefillServer.port())))
                .decoders(List.of(new InstanceAddress("127.0.0.1", decodeServer.port())))
                .healthInterval(Duration.ZERO));
        open.add(proxy);
    }

    private PdTcpConnector connector(String role, String fingerprint, dev.pdserve.model.KvCache cache, ManualClock clock) {
        KvTransferConfig cfg = KvTransferConfig.parse("{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"" + role + "\",\"kv_port\":0}");
        return new PdTcpConnector(cfg, KvPeerInfo.of(cfg.engineId(), model, 16, fingerprint), cache, "127.0.0.1", clock);
    }

    private OpenAiServer server(Engine e) {
        OpenAiServer s = new OpenAiServer(e, TextCodec.of(tokenizer), OpenAiServer.Options.loopback("tiny")).start();
        open.add(s);
        open.add(e);
        return s;
    }

    @AfterEach
    void nothingLeft() throws Exception {
        for (Engine e : List.of(prefill, decode, colocated)) {
            until("KV blocks freed and leases released", () -> e.stats().numBlocksUsed() == 0 && e.stats().numRunning() == 0
                    && (e.kvStats() == null || e.kvStats().blocksLeased() == 0));
        }
    }

    @AfterAll
    void stop() throws Exception {
        for (AutoCloseable c : open.reversed()) c.close();
        model.close();
        tokenizer.close();
    }

    private static HttpResponse<String> post(int port, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode ok(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    /** Choice index to text. */
    private static Map<Integer, String> texts(JsonNode r) {
        Map<Integer, String> out = new TreeMap<>();
        for (JsonNode c : r.get("choices")) out.put(c.get("index").asInt(), c.get("text").asText());
        return out;
    }

    /** A prompt over several blocks (16 tokens each) and a partial last one: shared blocks and a recomputed tail. */
    private static final String PROMPT = "def fibonacci(n):\\n    \\\"\\\"\\\"Return the n-th Fibonacci number.\\\"\\\"\\\"\\n    if n < 2:\\n        return n\\n";

    private static String body(String extra) {
        return "{\"model\":\"tiny\",\"prompt\":\"" + PROMPT + "\",\"max_tokens\":12,\"ignore_eos\":true" + extra + "}";
    }

    @Test
    void nSamplesThroughThePdProxyShareOnePrefill() throws Exception {
        for (String sampling : List.of(",\"temperature\":0,\"n\":3", ",\"temperature\":1.0,\"seed\":11,\"n\":4")) {
            long prefillPromptTokens = prefill.stats().promptTokensTotal();
            long pulls = decode.kvStats().transfers();
            JsonNode pd = ok(post(proxy.port(), body(sampling)));
            JsonNode reference = ok(post(colocatedServer.port(), body(sampling)));
            assertThat(texts(pd)).as(sampling).isEqualTo(texts(reference)).hasSize(sampling.contains("n\":3") ? 3 : 4);
            assertThat(pd.at("/usage/completion_tokens").asInt()).isEqualTo(reference.at("/usage/completion_tokens").asInt());
            int promptLen = pd.at("/usage/prompt_tokens").asInt();
            assertThat(prefill.stats().promptTokensTotal() - prefillPromptTokens).as("one prefill").isEqualTo(promptLen);
            assertThat(decode.kvStats().transfers() - pulls).as("one pull").isEqualTo(1);
        }
        // Seeded samples differ from each other (seed + i), as on the colocated instance.
        JsonNode seeded = ok(post(proxy.port(), body(",\"temperature\":1.0,\"seed\":11,\"n\":4")));
        assertThat(new java.util.HashSet<>(texts(seeded).values())).hasSizeGreaterThan(1);
    }

    @Test
    void nSamplesThroughVllmAscendsProxyFlow() throws Exception {
        for (boolean stream : List.of(false, true)) {
            String original = body(",\"temperature\":1.0,\"seed\":5,\"n\":3" + (stream ? ",\"stream\":true" : ""));
            // What load_balance_proxy_server_example.py sends the prefill instance: the request as is, n included.
            ObjectNode pre = (ObjectNode) JSON.readTree(original);
            ObjectNode kv = pre.putObject("kv_transfer_params");
            kv.put("do_remote_decode", true).put("do_remote_prefill", false);
            kv.putNull("remote_engine_id").putNull("remote_block_ids").putNull("remote_host").putNull("remote_port");
            pre.put("stream", false).put("max_tokens", 1).put("min_tokens", 1);
            long pulls = decode.kvStats().transfers();
            JsonNode prefilled = ok(post(prefillServer.port(), pre.toString()));
            assertThat(prefilled.get("kv_transfer_params").get("do_remote_prefill").asBoolean()).isTrue();
            assertThat(prefilled.get("choices")).hasSize(1); // the prompt, computed once
            ObjectNode dec = (ObjectNode) JSON.readTree(original);
            dec.set("kv_transfer_params", prefilled.get("kv_transfer_params"));
            HttpResponse<String> r = post(decodeServer.port(), dec.toString());
            Map<Integer, String> got = stream ? streamed(r) : texts(ok(r));
            Map<Integer, String> reference = texts(ok(post(colocatedServer.port(), body(",\"temperature\":1.0,\"seed\":5,\"n\":3"))));
            assertThat(got).as("stream " + stream).isEqualTo(reference);
            assertThat(decode.kvStats().transfers() - pulls).isEqualTo(1);
        }
    }

    private static Map<Integer, String> streamed(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        Map<Integer, String> out = new TreeMap<>();
        for (String frame : r.body().split("\n\n")) {
            String data = frame.substring("data: ".length());
            if (data.equals("[DONE]")) break;
            for (JsonNode c : JSON.readTree(data).get("choices")) out.merge(c.get("index").asInt(), c.get("text").asText(), String::concat);
        }
        return out;
    }
}
