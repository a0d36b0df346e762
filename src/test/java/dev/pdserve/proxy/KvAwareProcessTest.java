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
    private PdInstance p0, p1, d0, proxy;

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
        proxy = add(PdInstance.proxy("proxy", logs, List.of(p0, p1), List.of(d0), List.of("--health-interval", "0.2")));
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

    /** The proxy's view of one instance in /healthcheck. */
    JsonNode proxyView(String role, PdInstance i) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port + "/healthcheck")).build();
        JsonNode h = PdInstance.JSON.readTree(HTTP.send(r, HttpResponse.BodyHandlers.ofString()).body());
        for (JsonNode n : h.get(role)) if (n.get("instance").asText().endsWith(":" + i.port)) return n;
        throw new AssertionError("no " + role + " instance on port " + i.port + " in " + h);
    }

    /** The proxy's copy of the instance's prefix cache has caught up with the instance's own snapshot. */
    void awaitIndexed(String role, PdInstance i) throws Exception {
        Await.until("the proxy's index of " + i + " to equal its snapshot", () -> {
            JsonNode snap = snapshot(i);
            JsonNode view = proxyView(role, i);
            return view.get("kv_events_epoch").asLong() == snap.get("epoch").asLong()
                    && view.get("prefix_cache_blocks").asInt() == snap.get("blocks").size();
        });
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
}
