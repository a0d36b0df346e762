package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.TestLogs;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Forged and misdirected {@code kv_transfer_params} against real `serve` processes on loopback (a
 * llama prefill with a small pool, a decode, a decode that only pulls from an allowed address): each
 * gets a JSON error naming what is wrong, the rightful request still works, and no block is left.
 * Prompts are token ids, so their lengths and blocks are exact.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(TestLogs.class)
class PdHostileProcessTest {
    private final List<PdInstance> all = new ArrayList<>();
    private final Path logs = TestLogs.dir(PdHostileProcessTest.class);
    private PdInstance prefill, decode, fenced;

    private static String kv(String role, String extra) {
        return "{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"" + role + "\",\"kv_port\":0,\"kv_connector_extra_config\":{" + extra + "}}";
    }

    @BeforeAll
    void start() throws Exception {
        // 2 MiB: 64 blocks of 16 tokens, so a flood of leases would fill it many times over.
        prefill = add(PdInstance.serve("prefill", logs, TestModels.llama(),
                List.of("--kv-cache-memory", "2MiB", "--kv-transfer-config", kv("kv_producer", ""))));
        decode = add(PdInstance.serve("decode", logs, TestModels.llama(), kv("kv_consumer", "")));
        fenced = add(PdInstance.serve("decode-fenced", logs, TestModels.llama(), kv("kv_consumer", "\"allowed_prefill_addresses\":[\"10.9.9.9\"]")));
        for (PdInstance i : all) i.awaitServe();
    }

    private PdInstance add(PdInstance i) {
        all.add(i);
        return i;
    }

    @AfterAll
    void stop() {
        all.forEach(PdInstance::close);
    }

    @AfterEach
    void noBlockLeft() throws Exception {
        for (PdInstance i : all) i.awaitIdle();
    }

    private static String body(int[] prompt, int maxTokens) {
        ObjectNode b = PdInstance.JSON.createObjectNode();
        ArrayNode p = b.putArray("prompt");
        for (int t : prompt) p.add(t);
        b.put("model", "tiny").put("max_tokens", maxTokens).put("temperature", 0).put("ignore_eos", true);
        return b.toString();
    }

    private static int[] prompt(int length, int seed) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) p[i] = 1 + (seed * 31 + i * 7) % 200;
        return p;
    }

    private JsonNode lease(int[] prompt) throws Exception {
        ObjectNode b = (ObjectNode) PdInstance.JSON.readTree(body(prompt, 1));
        b.put("min_tokens", 1).putObject("kv_transfer_params").put("do_remote_decode", true);
        return prefill.postJson("/v1/completions", b.toString()).get("kv_transfer_params");
    }

    private static String withKv(String body, JsonNode kv) throws Exception {
        ObjectNode b = (ObjectNode) PdInstance.JSON.readTree(body);
        b.set("kv_transfer_params", kv);
        return b.toString();
    }

    private static JsonNode error(HttpResponse<String> r) throws Exception {
        return PdInstance.JSON.readTree(r.body()).get("error");
    }

    @Test
    void anotherRequestsParamsWithAnotherPromptAre400AndTheLeaseStaysForItsOwner() throws Exception {
        int[] mine = prompt(12, 1), theirs = prompt(12, 2);
        String colocated = prefill.postJson("/v1/completions", body(mine, 6)).at("/choices/0/text").asText();
        JsonNode kv = lease(mine);
        ObjectNode forged = kv.deepCopy();
        forged.remove("num_computed_tokens"); // nothing on the decode side gives the forgery away
        HttpResponse<String> r = decode.post("/v1/completions", withKv(body(theirs, 6), forged));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        assertThat(error(r).get("message").asText()).contains("prompt mismatch");
        assertThat(error(r).get("code").asInt()).isEqualTo(400);
        // Streaming: the same refusal, as the stream's error event.
        ObjectNode stream = (ObjectNode) PdInstance.JSON.readTree(withKv(body(theirs, 6), forged));
        stream.put("stream", true);
        assertThat(decode.post("/v1/completions", stream.toString()).body()).contains("prompt mismatch").contains("\"code\":400");
        assertThat(prefill.metric("pdserve:kv_blocks_leased")).as("the lease is still there").isPositive();
        HttpResponse<String> rightful = decode.post("/v1/completions", withKv(body(mine, 6), kv));
        assertThat(rightful.statusCode()).as(rightful.body()).isEqualTo(200);
        assertThat(PdInstance.JSON.readTree(rightful.body()).at("/choices/0/text").asText()).isEqualTo(colocated);
        assertThat(decode.post("/v1/completions", withKv(body(mine, 6), kv)).statusCode()).as("a replay").isEqualTo(502);
    }

    @Test
    void aBlockListThatIsNotTheLeasesIsRefused() throws Exception {
        int[] p = prompt(40, 3); // 3 blocks
        JsonNode kv = lease(p);
        ArrayNode ids = (ArrayNode) kv.get("remote_block_ids");
        assertThat(ids).hasSize(3);
        for (int[] order : new int[][]{{0, 0, 0}, {2, 1, 0}, {0, 1, 1}}) {
            ObjectNode wrong = kv.deepCopy();
            ArrayNode w = wrong.putArray("remote_block_ids");
            for (int i : order) w.add(ids.get(i).asInt());
            HttpResponse<String> r = decode.post("/v1/completions", withKv(body(p, 4), wrong));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
            assertThat(error(r).get("message").asText()).contains("block list mismatch");
        }
        ObjectNode shortList = kv.deepCopy();
        shortList.putArray("remote_block_ids").add(ids.get(0).asInt());
        HttpResponse<String> r = decode.post("/v1/completions", withKv(body(p, 4), shortList));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(error(r).get("param").asText()).isEqualTo("kv_transfer_params.remote_block_ids");
        assertThat(decode.post("/v1/completions", withKv(body(p, 4), kv)).statusCode()).isEqualTo(200);
    }

    @Test
    void paramsPointingAtSomethingThatIsNotAProducerFailFast() throws Exception {
        int[] p = prompt(12, 4);
        JsonNode kv = lease(p);
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            List<Socket> held = new ArrayList<>();
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) held.add(silent.accept());
                } catch (Exception ignored) {
                    // closed
                }
            });
            for (int port : new int[]{silent.getLocalPort(), decode.port}) {
                ObjectNode elsewhere = kv.deepCopy();
                elsewhere.put("remote_port", port);
                HttpResponse<String> r = decode.post("/v1/completions", withKv(body(p, 4), elsewhere));
                assertThat(r.statusCode()).as(r.body()).isEqualTo(502);
                assertThat(error(r).get("message").asText()).containsAnyOf("handshake_timeout_ms (1000 ms)", "before the handshake is done");
            }
            for (Socket s : held) s.close();
        }
        assertThat(decode.post("/v1/completions", withKv(body(p, 4), kv)).statusCode()).isEqualTo(200);
    }

    @Test
    void aDecodeInstanceFencedToItsPrefillAddressesRefusesOthers() throws Exception {
        int[] p = prompt(12, 5);
        JsonNode kv = lease(p);
        HttpResponse<String> r = fenced.post("/v1/completions", withKv(body(p, 4), kv));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(error(r).get("param").asText()).isEqualTo("kv_transfer_params.remote_host");
        assertThat(error(r).get("message").asText()).contains("allowed_prefill_addresses [10.9.9.9]");
        assertThat(decode.post("/v1/completions", withKv(body(p, 4), kv)).statusCode()).isEqualTo(200);
    }

    @Test
    void aFloodOfLeasesNobodyPullsDoesNotStarvePrefill() throws Exception {
        double reclaimedBefore = prefill.metric("pdserve:kv_lease_reclaimed_total");
        // 20 leases of 7 blocks: 140 blocks for a 64-block pool.
        for (int i = 0; i < 20; i++) lease(prompt(100, 100 + i));
        double leased = prefill.metric("pdserve:kv_blocks_leased");
        assertThat(leased).as("leases hold at most max_leased_fraction (0.5) of 64 blocks").isLessThanOrEqualTo(32);
        assertThat(prefill.metric("pdserve:kv_lease_reclaimed_total") - reclaimedBefore).isPositive();
        // A request that needs more blocks than the leases leave free still runs: the oldest leases go.
        HttpResponse<String> r = prefill.post("/v1/completions", body(prompt(600, 7), 8));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(PdInstance.JSON.readTree(r.body()).at("/usage/completion_tokens").asInt()).isEqualTo(8);
        // One that needs the whole pool takes every lease left (so the block check after the test need not wait them out).
        assertThat(prefill.post("/v1/completions", body(prompt(1016, 8), 4)).statusCode()).isEqualTo(200);
        assertThat(prefill.metric("pdserve:kv_blocks_leased")).isZero();
    }
}
