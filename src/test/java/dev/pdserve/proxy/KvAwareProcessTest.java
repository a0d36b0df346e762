package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.Await;
import dev.pdserve.TestLogs;
import dev.pdserve.TestModels;
import dev.pdserve.kv.PdInstance;
import dev.pdserve.prefix.BlockHash;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * KV-aware PD with real processes on loopback: two prefill instances, one decode instance and the
 * proxy. The proxy's prefix index follows each instance's KV events through stores, evictions and a
 * restart of an instance on the same port.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(TestLogs.class)
class KvAwareProcessTest {
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private final Path logs = TestLogs.dir(KvAwareProcessTest.class);
    private final List<PdInstance> all = new ArrayList<>();
    private Path token;
    private PdInstance p0, p1, d0, proxy, alwaysPd;

    private String kv(String role) {
        return "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"" + role + "\",\"kv_port\":0"
                + ",\"kv_connector_extra_config\":{\"cluster_token_file\":\"" + token + "\"}}";
    }

    private PdInstance serve(String name, String role, int port) throws Exception {
        // A small pool (64 blocks of 16 tokens on llama-tiny) so that a few prompts evict.
        return PdInstance.serve(name, logs, TestModels.llama(), port, List.of("--kv-cache-memory", "2MiB",
                "--kv-transfer-config", kv(role)));
    }

    @BeforeAll
    void start() throws Exception {
        token = Files.createTempFile("pd-token", ".txt");
        Files.writeString(token, "kv-aware-token\n");
        p0 = add(serve("prefill-0", "kv_producer", 0));
        p1 = add(serve("prefill-1", "kv_producer", 0));
        d0 = add(serve("decode-0", "kv_consumer", 0));
        for (PdInstance i : List.copyOf(all)) i.awaitServe();
        proxy = add(PdInstance.proxy("proxy", logs, List.of(p0, p1), List.of(d0), List.of("--health-interval", "2", "--prefill-threshold", "256")));
        alwaysPd = add(PdInstance.proxy("proxy-always-pd", logs, List.of(p0, p1), List.of(d0),
                List.of("--health-interval", "2", "--prefill-threshold", "0")));
    }

    private PdInstance add(PdInstance i) {
        all.add(i);
        return i;
    }

    @AfterAll
    void stop() {
        all.forEach(PdInstance::close);
    }

    static String completion(String prompt, int maxTokens) {
        ObjectNode b = PdInstance.JSON.createObjectNode();
        b.put("model", "tiny").put("prompt", prompt).put("max_tokens", maxTokens).put("temperature", 0).put("ignore_eos", true);
        return b.toString();
    }

    /** The first line of an instance's /kv_events: its snapshot. */
    static JsonNode snapshot(PdInstance i) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + i.port + "/kv_events")).timeout(Duration.ofSeconds(30)).build();
        HttpResponse<InputStream> resp = HTTP.send(r, HttpResponse.BodyHandlers.ofInputStream());
        assertThat(resp.statusCode()).isEqualTo(200);
        assertThat(resp.headers().firstValue("Content-Type")).hasValue("application/x-ndjson");
        try (InputStream in = resp.body()) {
            return PdInstance.JSON.readTree(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).readLine());
        }
    }

    static Set<Long> hashes(JsonNode snapshot) {
        Set<Long> s = new HashSet<>();
        for (JsonNode b : snapshot.get("blocks")) s.add(b.get("block_hashes").get(0).asLong());
        return s;
    }

    static int[] tokenize(PdInstance i, String prompt) throws Exception {
        JsonNode t = i.postJson("/tokenize", PdInstance.JSON.createObjectNode().put("model", "tiny").put("prompt", prompt).toString());
        int[] ids = new int[t.get("tokens").size()];
        for (int k = 0; k < ids.length; k++) ids[k] = t.get("tokens").get(k).asInt();
        return ids;
    }

    JsonNode proxyView(String role, PdInstance i) throws Exception {
        return proxyView(proxy, role, i);
    }

    /** A proxy's view of one instance in /healthcheck. */
    static JsonNode proxyView(PdInstance proxy, String role, PdInstance i) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port + "/healthcheck")).build();
        JsonNode h = PdInstance.JSON.readTree(HTTP.send(r, HttpResponse.BodyHandlers.ofString()).body());
        for (JsonNode n : h.get(role)) if (n.get("instance").asText().endsWith(":" + i.port)) return n;
        throw new AssertionError("no " + role + " instance on port " + i.port + " in " + h);
    }

    /** The proxy's copy of the instance's prefix cache has caught up with the instance's own snapshot. */
    void awaitIndexed(String role, PdInstance i) throws Exception {
        awaitIndexed(proxy, role, i);
    }

    static void awaitIndexed(PdInstance proxy, String role, PdInstance i) throws Exception {
        String[] last = {""};
        try {
            // Generous: on a loaded machine the subscription (and a restarted instance) can take a while.
            Await.until("the index of " + proxy + " for " + i + " to equal its snapshot", java.time.Duration.ofSeconds(120), () -> {
                JsonNode snap = snapshot(i);
                JsonNode view = proxyView(proxy, role, i);
                last[0] = "snapshot epoch " + snap.get("epoch") + " blocks " + snap.get("blocks").size() + ", proxy " + view;
                return view.get("kv_events_epoch").asLong() == snap.get("epoch").asLong()
                        && view.get("prefix_cache_blocks").asInt() == snap.get("blocks").size();
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last seen: " + last[0], e);
        }
    }

    @Test
    void theIndexFollowsStoresEvictionsAndARestart() throws Exception {
        String shared = "The history of the Roman empire is long and full of wars, emperors and roads. ".repeat(3);
        int[] ids = tokenize(p0, shared + "Tell me about Caesar.");
        long[] chain = BlockHash.chain(ids, (ids.length - 1) / 16, 16);
        p0.postJson("/v1/completions", completion(shared + "Tell me about Caesar.", 2));
        // The instance's snapshot holds the prompt's full blocks under the hashes the proxy computes.
        assertThat(hashes(snapshot(p0))).containsAll(List.of(chain[0], chain[chain.length - 1]));
        awaitIndexed("prefill", p0);

        // Enough distinct prompts to evict (the pool has 64 blocks): the index follows the removals.
        for (int k = 0; k < 12; k++) p0.postJson("/v1/completions", completion(k + " unrelated words " .repeat(30), 1));
        assertThat(hashes(snapshot(p0))).doesNotContain(chain[0]);
        awaitIndexed("prefill", p0);
        awaitIndexed("prefill", p1);
        awaitIndexed("decode", d0);

        // Restart prefill-0 where it was: the proxy drops the old epoch and resynchronises to the new one.
        long oldEpoch = proxyView("prefill", p0).get("kv_events_epoch").asLong();
        p0.postJson("/v1/completions", completion(shared, 1));
        int port = p0.port;
        p0.close();
        all.remove(p0);
        p0 = add(serve("prefill-0-restarted", "kv_producer", port)).awaitServe();
        JsonNode fresh = snapshot(p0);
        assertThat(fresh.get("epoch").asLong()).isNotEqualTo(oldEpoch);
        assertThat(fresh.get("blocks")).isEmpty();
        awaitIndexed("prefill", p0);
        p0.postJson("/v1/completions", completion(shared, 1));
        awaitIndexed("prefill", p0);
        assertThat(proxyView("prefill", p0).get("prefix_cache_blocks").asInt()).isPositive();
    }

    /** A proxy metric's sample with exactly these labels (in Prometheus' sorted order), 0 when absent. */
    static double sample(PdInstance proxy, String name, String labels) throws Exception {
        String key = labels.isEmpty() ? name : name + "{" + labels + "}";
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(key) + " (\\S+)$")
                .matcher(proxy.metrics());
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    static String text(HttpResponse<String> r) throws Exception {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return PdInstance.JSON.readTree(r.body()).get("choices").get(0).get("text").asText();
    }

    @Test
    void kvAwareRoutingSendsASharedPrefixToThePrefillInstanceHoldingIt() throws Exception {
        String shared = "You are a careful assistant. Answer in short sentences and cite sources. ".repeat(5);
        HttpResponse<String> first = alwaysPd.post("/v1/completions", completion(shared + "Question 0: why is the sky blue?", 4));
        assertThat(first.headers().firstValue("X-PD-Path")).hasValue("disaggregated");
        text(first);
        PdInstance holder = p0.metric("vllm:prefix_cache_queries_total") > 0 && snapshotHolds(p0, shared) ? p0 : p1;
        PdInstance other = holder == p0 ? p1 : p0;
        assertThat(snapshotHolds(holder, shared)).isTrue();
        awaitIndexed(alwaysPd, "prefill", holder);
        double holderHits = holder.metric("vllm:prefix_cache_hits_total");
        double otherRequests = other.metric("vllm:request_success_total");
        double hitBlocks = sample(alwaysPd, "pdserve_proxy_prefix_hit_blocks_total", "");
        int sharedBlocks = tokenize(holder, shared).length / 16;
        for (int k = 1; k <= 4; k++) {
            HttpResponse<String> r = alwaysPd.post("/v1/completions", completion(shared + "Question " + k + ": what is " + k + "?", 4));
            assertThat(r.headers().firstValue("X-PD-Path")).hasValue("disaggregated");
            text(r);
        }
        // Least-loaded would have alternated between two idle instances; kv-aware sent all four to the holder.
        assertThat(other.metric("vllm:request_success_total")).isEqualTo(otherRequests);
        assertThat(holder.metric("vllm:prefix_cache_hits_total") - holderHits).isGreaterThanOrEqualTo(4.0 * sharedBlocks * 16);
        assertThat(sample(alwaysPd, "pdserve_proxy_prefix_hit_blocks_total", "") - hitBlocks).isGreaterThanOrEqualTo(4.0 * sharedBlocks);
        assertThat(sample(alwaysPd, "pdserve_proxy_routing_decisions_total", "reason=\"prefix_hit\",role=\"prefill\"")).isGreaterThanOrEqualTo(4);
    }

    /** Whether the instance's prefix cache holds the text's first full block. */
    static boolean snapshotHolds(PdInstance i, String text) throws Exception {
        int[] ids = tokenize(i, text);
        return hashes(snapshot(i)).contains(BlockHash.chain(ids, 1, 16)[0]);
    }

    @Test
    void shortPromptsAndPrefixesTheDecodeHoldsArePrefilledOnTheDecodeInstance() throws Exception {
        String shortPrompt = "Count to five:";
        String colocated = text(p1.post("/v1/completions", completion(shortPrompt, 6)));
        double prefillsBefore = p0.metric("vllm:request_success_total") + p1.metric("vllm:request_success_total");
        HttpResponse<String> r = proxy.post("/v1/completions", completion(shortPrompt, 6));
        assertThat(r.headers().firstValue("X-PD-Path")).hasValue("decode-only");
        assertThat(text(r)).isEqualTo(colocated);
        assertThat(p0.metric("vllm:request_success_total") + p1.metric("vllm:request_success_total")).isEqualTo(prefillsBefore);
        assertThat(sample(proxy, "pdserve_proxy_pd_path_total", "path=\"decode-only\"")).isGreaterThanOrEqualTo(1);
        assertThat(sample(proxy, "pdserve_proxy_routing_decisions_total", "reason=\"short_prompt\",role=\"decode\"")).isGreaterThanOrEqualTo(1);

        // A long prompt is disaggregated; afterwards the decode instance holds it, so a follow-up turn stays there.
        String history = "User: tell me about rivers. Assistant: rivers flow from mountains to the sea, carving valleys. ".repeat(16);
        HttpResponse<String> turn1 = proxy.post("/v1/completions", completion(history, 4));
        assertThat(turn1.headers().firstValue("X-PD-Path")).hasValue("disaggregated");
        text(turn1);
        awaitIndexed(proxy, "decode", d0);
        String turn2Prompt = history + "User: and lakes?";
        String expected = text(p1.post("/v1/completions", completion(turn2Prompt, 6)));
        HttpResponse<String> turn2 = proxy.post("/v1/completions", completion(turn2Prompt, 6));
        assertThat(turn2.headers().firstValue("X-PD-Path")).hasValue("decode-only");
        assertThat(text(turn2)).isEqualTo(expected);
        assertThat(sample(proxy, "pdserve_proxy_routing_decisions_total", "reason=\"decode_prefix\",role=\"decode\"")).isGreaterThanOrEqualTo(1);
    }
}
