package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.TestLogs;
import dev.pdserve.TestModels;
import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * PD disaggregation with real processes on loopback: for each golden model a prefill serve
 * (kv_producer), a decode serve (kv_consumer) and `pdserve proxy` in front of them, plus two
 * decode serves holding the wrong cluster token (policy fail and recompute). The colocated
 * reference is the prefill instance itself answering without kv_transfer_params. Leases that must
 * be pulled get the default 30 s, so no pull races the clock; the tests of leases that run out use
 * a second prefill instance with a short lease.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(TestLogs.class)
class PdProcessTest {
    private static final double SHORT_LEASE_SECONDS = 2;
    private final List<PdInstance> all = new ArrayList<>();
    private final Path logs = TestLogs.dir(PdProcessTest.class);
    private PdInstance dsP, dsShortLease, dsD, dsFail, dsRecompute, dsProxy, llP, llD, llProxy;

    private static String kv(String role, Path tokenFile, String extra) {
        return "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"" + role + "\",\"kv_port\":0" + extra
                + ",\"kv_connector_extra_config\":{\"cluster_token_file\":\"" + tokenFile + "\"}}";
    }

    @BeforeAll
    void start() throws Exception {
        Path right = Files.createTempFile("pd-token", ".txt");
        Files.writeString(right, "right-token\n");
        Path wrong = Files.createTempFile("pd-token-wrong", ".txt");
        Files.writeString(wrong, "wrong-token\n");
        dsP = add(PdInstance.serve("ds-prefill", logs, TestModels.deepseek(), kv("kv_producer", right, "")));
        dsShortLease = add(PdInstance.serve("ds-prefill-short-lease", logs, TestModels.deepseek(), kv("kv_producer", right, "")
                .replace("\"cluster_token_file\"", "\"lease_seconds\":" + SHORT_LEASE_SECONDS + ",\"cluster_token_file\"")));
        dsD = add(PdInstance.serve("ds-decode", logs, TestModels.deepseek(), kv("kv_consumer", right, "")));
        dsFail = add(PdInstance.serve("ds-decode-fail", logs, TestModels.deepseek(), kv("kv_consumer", wrong, "")));
        dsRecompute = add(PdInstance.serve("ds-decode-recompute", logs, TestModels.deepseek(), kv("kv_consumer", wrong, ",\"kv_load_failure_policy\":\"recompute\"")));
        llP = add(PdInstance.serve("llama-prefill", logs, TestModels.llama(), kv("kv_producer", right, "")));
        llD = add(PdInstance.serve("llama-decode", logs, TestModels.llama(), kv("kv_consumer", right, "")));
        for (PdInstance i : List.copyOf(all)) i.awaitServe();
        dsProxy = add(PdInstance.proxy("ds-proxy", logs, List.of(dsP), List.of(dsD)));
        llProxy = add(PdInstance.proxy("llama-proxy", logs, List.of(llP), List.of(llD)));
    }

    private PdInstance add(PdInstance i) {
        all.add(i);
        return i;
    }

    @AfterAll
    void stop() {
        all.forEach(PdInstance::close);
    }

    /** After every test no serve instance holds a KV block, leased or in use. */
    @AfterEach
    void noBlockLeft() throws Exception {
        for (PdInstance i : all) {
            if (i.name.endsWith("proxy")) continue;
            i.awaitIdle();
        }
    }

    private static String body(String path, boolean stream, String prompt) {
        ObjectNode b = PdInstance.JSON.createObjectNode();
        if (path.contains("chat")) {
            b.putArray("messages").addObject().put("role", "user").put("content", prompt);
            b.put("logprobs", true).put("top_logprobs", 0);
        } else {
            b.put("prompt", prompt);
            b.put("logprobs", 0);
        }
        b.put("model", "tiny").put("max_tokens", 10).put("temperature", 0).put("ignore_eos", true)
                .put("return_tokens_as_token_ids", true).put("stream", stream);
        return b.toString();
    }

    /** The sampled tokens with their logprobs (token_id:N = logprob), from a whole response or an SSE stream. */
    static List<String> tokens(HttpResponse<String> r, boolean stream) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        List<JsonNode> parts = new ArrayList<>();
        if (stream) {
            List<String> events = PdInstance.events(r.body());
            assertThat(events.getLast()).isEqualTo("[DONE]");
            for (String e : events.subList(0, events.size() - 1)) parts.add(PdInstance.JSON.readTree(e));
        } else {
            parts.add(PdInstance.JSON.readTree(r.body()));
        }
        List<String> out = new ArrayList<>();
        for (JsonNode p : parts) {
            for (JsonNode c : p.path("choices")) {
                JsonNode lp = c.path("logprobs");
                if (lp.has("content")) {
                    for (JsonNode t : lp.get("content")) out.add(t.get("token").asText() + "=" + t.get("logprob").asDouble());
                } else if (lp.has("tokens")) {
                    for (int k = 0; k < lp.get("tokens").size(); k++) out.add(lp.get("tokens").get(k).asText() + "=" + lp.get("token_logprobs").get(k).asDouble());
                }
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1} stream={2}")
    @CsvSource({"deepseek,/v1/completions,false", "deepseek,/v1/completions,true", "deepseek,/v1/chat/completions,false",
            "deepseek,/v1/chat/completions,true", "llama,/v1/completions,false", "llama,/v1/completions,true",
            "llama,/v1/chat/completions,false", "llama,/v1/chat/completions,true"})
    void disaggregatedEqualsColocated(String model, String path, boolean stream) throws Exception {
        PdInstance p = model.equals("deepseek") ? dsP : llP;
        PdInstance proxy = model.equals("deepseek") ? dsProxy : llProxy;
        for (String prompt : List.of("def quicksort(arr):", "The capital of France is a city where " + "many people live. ".repeat(3))) {
            String b = body(path, stream, prompt);
            List<String> colocated = tokens(p.post(path, b), stream);
            List<String> pd = tokens(proxy.post(path, b), stream);
            assertThat(colocated).hasSize(10);
            assertThat(pd).as("PD vs colocated, " + prompt).containsExactlyElementsOf(colocated);
        }
    }

    /** The decode side received exactly the prompts' blocks: blocks x block size x entry floats x 4 x layers. */
    @Test
    void decodeReceivesExactlyThePromptBlocks() throws Exception {
        long perBlock;
        try (CausalLM m = ModelLoader.load(TestModels.deepseek(), LoadOptions.defaults())) {
            perBlock = PagedKvCache.blockBytes(m.numLayers(), 16, m.kvEntryFloats());
        }
        double before = dsD.metric("pdserve:kv_transfer_bytes_total");
        long blocks = 0;
        for (String prompt : List.of("a", "Hello there, general", "x ".repeat(40))) {
            JsonNode r = dsProxy.postJson("/v1/completions", body("/v1/completions", false, prompt));
            blocks += (r.get("usage").get("prompt_tokens").asInt() + 15) / 16;
        }
        assertThat(dsD.metric("pdserve:kv_transfer_bytes_total") - before).isEqualTo((double) blocks * perBlock);
        assertThat(dsD.metrics()).contains("pdserve:kv_transfer_seconds_count{engine=\"0\",model_name=\"tiny\"}")
                .contains("pdserve:kv_transfer_bytes_total{direction=\"received\",engine=\"0\",model_name=\"tiny\"}");
    }

    private JsonNode prefill(String path, String prompt) throws Exception {
        return prefill(dsP, path, prompt);
    }

    private static JsonNode prefill(PdInstance p, String path, String prompt) throws Exception {
        ObjectNode b = (ObjectNode) PdInstance.JSON.readTree(body(path, false, prompt));
        b.put("max_tokens", 1).put("min_tokens", 1).putObject("kv_transfer_params").put("do_remote_decode", true);
        JsonNode kv = p.postJson(path, b.toString()).get("kv_transfer_params");
        assertThat(kv.get("do_remote_prefill").asBoolean()).isTrue();
        return kv;
    }

    private static String withKv(String body, JsonNode kv) throws Exception {
        ObjectNode b = (ObjectNode) PdInstance.JSON.readTree(body);
        b.set("kv_transfer_params", kv);
        return b.toString();
    }

    @Test
    void wrongClusterTokenFailsClearlyOrRecomputes() throws Exception {
        String b = body("/v1/completions", false, "Tell me a story about");
        List<String> colocated = tokens(dsP.post("/v1/completions", b), false);
        double expiredBefore = dsShortLease.metric("pdserve:kv_lease_expired_total");

        JsonNode kv = prefill(dsShortLease, "/v1/completions", "Tell me a story about");
        HttpResponse<String> failed = dsFail.post("/v1/completions", withKv(b, kv));
        assertThat(failed.statusCode()).isEqualTo(502);
        JsonNode err = PdInstance.JSON.readTree(failed.body()).get("error");
        assertThat(err.get("message").asText()).contains("prefill instance 127.0.0.1:" + kv.get("remote_port").asInt())
                .contains("cluster token mismatch");
        // streaming: the error arrives as an SSE event
        JsonNode kv2 = prefill(dsShortLease, "/v1/completions", "Tell me a story about");
        HttpResponse<String> failedStream = dsFail.post("/v1/completions", withKv(body("/v1/completions", true, "Tell me a story about"), kv2));
        assertThat(failedStream.body()).contains("cluster token mismatch").contains("\"code\":502");

        JsonNode kv3 = prefill(dsShortLease, "/v1/completions", "Tell me a story about");
        assertThat(tokens(dsRecompute.post("/v1/completions", withKv(b, kv3)), false)).containsExactlyElementsOf(colocated);
        // the three leases nobody could pull expire on the prefill instance (noBlockLeft checks the blocks)
        dsShortLease.awaitIdle();
        assertThat(dsShortLease.metric("pdserve:kv_lease_expired_total") - expiredBefore).isEqualTo(3);
    }

    /** Params the decode instance cannot use are refused with 400 naming the field and both values. */
    @Test
    void unusableParamsAre400() throws Exception {
        String b = body("/v1/completions", false, "Bad params");
        JsonNode kv = prefill("/v1/completions", "Bad params");
        ObjectNode wrongSize = kv.deepCopy();
        wrongSize.put("remote_block_size", 32);
        HttpResponse<String> r = dsD.post("/v1/completions", withKv(b, wrongSize));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("block size mismatch: producer 32, consumer 16");
        ObjectNode noPort = kv.deepCopy();
        noPort.remove("remote_port");
        r = dsD.post("/v1/completions", withKv(b, noPort));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(PdInstance.JSON.readTree(r.body()).at("/error/param").asText()).isEqualTo("kv_transfer_params.remote_port");
        // (n > 1 with pulled KV is served now: PdParallelSamplingTest.)
        // the lease is still there for a correct decode request
        assertThat(dsD.post("/v1/completions", withKv(b, kv)).statusCode()).isEqualTo(200);
    }

    /** (PdEngineTest checks the same on a hand-moved clock, to the nanosecond; here it is the real one, over /metrics.) */
    @Test
    void unclaimedLeaseExpires() throws Exception {
        double expiredBefore = dsShortLease.metric("pdserve:kv_lease_expired_total");
        long sent = System.nanoTime(); // the lease starts after this
        JsonNode kv = prefill(dsShortLease, "/v1/chat/completions", "Nobody will decode this");
        assertThat(kv.get("remote_block_ids").size()).isPositive();
        String metrics = dsShortLease.metrics();
        if (System.nanoTime() - sent < SHORT_LEASE_SECONDS * 1e9) { // else the lease may be over: a loaded machine, nothing to see
            assertThat(PdInstance.metric(metrics, "pdserve:kv_blocks_leased")).isEqualTo(kv.get("remote_block_ids").size());
            assertThat(PdInstance.metric(metrics, "vllm:kv_cache_usage_perc")).isPositive();
        }
        dsShortLease.awaitIdle();
        assertThat(dsShortLease.metric("pdserve:kv_lease_expired_total") - expiredBefore).isEqualTo(1);
    }

    /** A streaming prefill returns kv_transfer_params in its final chunk, for completions and chat. */
    @ParameterizedTest
    @CsvSource({"/v1/completions", "/v1/chat/completions"})
    void streamingPrefillCarriesParamsInTheFinalChunk(String path) throws Exception {
        ObjectNode b = (ObjectNode) PdInstance.JSON.readTree(body(path, true, "Streaming prefill"));
        b.put("max_tokens", 1).put("min_tokens", 1).putObject("kv_transfer_params").put("do_remote_decode", true);
        List<String> events = PdInstance.events(dsP.post(path, b.toString()).body());
        JsonNode kv = null;
        for (String e : events) {
            if (e.equals("[DONE]")) continue;
            JsonNode c = PdInstance.JSON.readTree(e);
            if (c.path("kv_transfer_params").isObject()) kv = c.get("kv_transfer_params");
        }
        assertThat(kv).as(String.join("\n", events)).isNotNull();
        String decodeBody = body(path, true, "Streaming prefill");
        assertThat(tokens(dsD.post(path, withKv(decodeBody, kv)), true)).containsExactlyElementsOf(tokens(dsP.post(path, decodeBody), true));
    }
}
