package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** kv_transfer_params keeps vLLM's JSON names, round-trips, and rejects bad input naming the field. */
class KvTransferParamsTest {
    private final ObjectMapper json = new ObjectMapper();

    private KvTransferParams parse(String s) throws Exception {
        return KvTransferParams.parse(json.readTree(s));
    }

    @Test
    void roundTripsWithVllmFieldNames() throws Exception {
        KvPeerInfo p = KvTestSupport.info("prefill-0", 16, 4, 80);
        KvTransferParams out = KvTransferParams.remotePrefill(p, "10.0.0.5", 14579, "cmpl-1", new int[]{3, 9}, 27);
        JsonNode tree = json.valueToTree(out);
        assertThat(tree.toString()).isEqualTo("{\"do_remote_decode\":false,\"do_remote_prefill\":true,\"remote_engine_id\":\"prefill-0\","
                + "\"remote_block_ids\":[3,9],\"remote_host\":\"10.0.0.5\",\"remote_port\":14579,\"remote_request_id\":\"cmpl-1\","
                + "\"remote_block_size\":16,\"remote_kv_layout\":\"test-layout\",\"remote_model_fingerprint\":\"sha256:synthetic\","
                + "\"num_computed_tokens\":27}");
        KvTransferParams back = KvTransferParams.parse(tree);
        assertThat(back.remoteBlockIds()).containsExactly(3, 9);
        assertThat(back).usingRecursiveComparison().isEqualTo(out);
        assertThat(json.valueToTree(KvTransferParams.remoteDecode()).toString()).isEqualTo("{\"do_remote_decode\":true,\"do_remote_prefill\":false}");
        assertThat(back.incompatibilityWith(p)).isNull();
    }

    @Test
    void acceptsVllmsOwnParamsAndIgnoresExtraFields() throws Exception {
        KvTransferParams p = parse("{\"do_remote_prefill\":true,\"do_remote_decode\":false,\"remote_engine_id\":\"e\",\"remote_block_ids\":[],"
                + "\"remote_host\":\"h\",\"remote_port\":5600,\"remote_request_id\":\"r\",\"tp_size\":1}");
        assertThat(p.remoteBlockIds()).isEmpty();
        assertThat(p.remoteBlockSize()).isNull();
        assertThat(KvTransferParams.parse(json.readTree("null"))).isNull();
        assertThat(parse("{\"do_remote_decode\":true}").doRemoteDecode()).isTrue();
    }

    @Test
    void badInputNamesTheField() {
        String ok = "\"do_remote_prefill\":true,\"remote_engine_id\":\"e\",\"remote_request_id\":\"r\"";
        assertInvalid("{" + ok + ",\"remote_host\":\"h\",\"remote_port\":1,\"remote_block_ids\":[1,-2]}",
                "kv_transfer_params.remote_block_ids", "kv_transfer_params.remote_block_ids element 1 must be >= 0, got -2");
        assertInvalid("{" + ok + ",\"remote_host\":\"h\",\"remote_port\":1,\"remote_block_ids\":[1,\"2\"]}",
                "kv_transfer_params.remote_block_ids", "kv_transfer_params.remote_block_ids element 1 must be an integer, got \"2\"");
        assertInvalid("{" + ok + ",\"remote_host\":\"h\",\"remote_port\":1,\"remote_block_ids\":5}",
                "kv_transfer_params.remote_block_ids", "kv_transfer_params.remote_block_ids must be an array of block ids, got number 5");
        assertInvalid("{" + ok + ",\"remote_port\":1,\"remote_block_ids\":[1]}",
                "kv_transfer_params.remote_host", "kv_transfer_params.remote_host is required when do_remote_prefill is true");
        assertInvalid("{" + ok + ",\"remote_host\":\"h\",\"remote_port\":\"1\",\"remote_block_ids\":[1]}",
                "kv_transfer_params.remote_port", "kv_transfer_params.remote_port must be an integer, got string \"1\"");
        assertInvalid("{" + ok + ",\"remote_host\":\"h\",\"remote_port\":0,\"remote_block_ids\":[1]}",
                "kv_transfer_params.remote_port", "kv_transfer_params.remote_port must be in [1, 65535], got 0");
        assertInvalid("{\"do_remote_decode\":\"yes\"}", "kv_transfer_params.do_remote_decode",
                "kv_transfer_params.do_remote_decode must be a boolean, got string \"yes\"");
        assertInvalid("{\"do_remote_decode\":true,\"do_remote_prefill\":true}", "kv_transfer_params",
                "kv_transfer_params: do_remote_decode and do_remote_prefill cannot both be true");
        assertInvalid("[]", "kv_transfer_params", "kv_transfer_params must be a JSON object, got array");
        assertInvalid("{\"num_computed_tokens\":-1}", "kv_transfer_params.num_computed_tokens",
                "kv_transfer_params.num_computed_tokens must be in [0, 2147483647], got -1");
    }

    private void assertInvalid(String input, String param, String message) {
        assertThatThrownBy(() -> parse(input)).isInstanceOfSatisfying(KvTransferParams.Invalid.class, e -> {
            assertThat(e.param()).isEqualTo(param);
            assertThat(e.getMessage()).isEqualTo(message);
        });
    }
}
