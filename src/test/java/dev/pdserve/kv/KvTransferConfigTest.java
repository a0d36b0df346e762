package dev.pdserve.kv;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code --kv-transfer-config} is read like vLLM reads it; mistakes name the field. */
class KvTransferConfigTest {
    @Test
    void defaultsMatchVllm() {
        KvTransferConfig c = KvTransferConfig.parse("{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_both\"}");
        assertThat(c.role()).isEqualTo(KvRole.BOTH);
        assertThat(c.role().produces() && c.role().consumes()).isTrue();
        assertThat(c.ip()).isEqualTo("127.0.0.1");
        assertThat(c.port()).isEqualTo(14579);
        assertThat(c.engineId()).hasSize(36);
        assertThat(c.loadFailurePolicy()).isEqualTo(KvTransferConfig.FailurePolicy.FAIL);
        assertThat(c.lease()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.clusterToken()).isEmpty();
        assertThat(c.notes()).isEmpty();
        assertThat(KvTransferConfig.parse("{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_both\"}").engineId())
                .as("a random engine id per start").isNotEqualTo(c.engineId());
    }

    @Test
    void readsEveryField(@TempDir Path tmp) throws Exception {
        Path tokenFile = tmp.resolve("token");
        Files.writeString(tokenFile, "  s3cret\n");
        KvTransferConfig c = KvTransferConfig.parse("""
                {"kv_connector":"PdTcpConnector","kv_role":"kv_consumer","kv_ip":"0.0.0.0","kv_port":0,
                 "engine_id":"decode-7","kv_parallel_size":2,"kv_load_failure_policy":"recompute","kv_rank":1,
                 "kv_connector_extra_config":{"lease_seconds":1.5,"cluster_token_file":"%s",
                   "connect_timeout_ms":100,"read_timeout_ms":200,"transfer_timeout_ms":300}}""".formatted(tokenFile));
        assertThat(c.role()).isEqualTo(KvRole.CONSUMER);
        assertThat(c.ip()).isEqualTo("0.0.0.0");
        assertThat(c.port()).isZero();
        assertThat(c.engineId()).isEqualTo("decode-7");
        assertThat(c.parallelSize()).isEqualTo(2);
        assertThat(c.loadFailurePolicy()).isEqualTo(KvTransferConfig.FailurePolicy.RECOMPUTE);
        assertThat(c.lease()).isEqualTo(Duration.ofMillis(1500));
        assertThat(c.clusterToken()).isEqualTo("s3cret");
        assertThat(c.toString()).doesNotContain("s3cret");
        assertThat(c.connectTimeoutMs()).isEqualTo(100);
        assertThat(c.readTimeoutMs()).isEqualTo(200);
        assertThat(c.transferTimeoutMs()).isEqualTo(300);
        assertThat(c.notes()).isEmpty();
    }

    @Test
    void otherConnectorsGpuBuffersAndUnknownFieldsAreNoted() {
        KvTransferConfig c = KvTransferConfig.parse("""
                {"kv_connector":"NixlConnector","kv_role":"kv_producer","kv_buffer_device":"cuda","frobnicate":1,
                 "kv_connector_extra_config":{"backends":["UCX"],"kv_load_failure_policy":"recompute"}}""");
        assertThat(c.connector()).isEqualTo("NixlConnector");
        assertThat(c.loadFailurePolicy()).isEqualTo(KvTransferConfig.FailurePolicy.RECOMPUTE);
        assertThat(c.notes()).containsExactlyInAnyOrder(
                "kv_connector NixlConnector is not available in pdserve; PdTcpConnector (KV over TCP) is used instead",
                "kv_buffer_device cuda: pdserve keeps and sends KV from CPU memory",
                "unknown field 'frobnicate' ignored",
                "unknown field 'kv_connector_extra_config.backends' ignored");
        for (String alias : new String[]{"LLMDataDistCMgrConnector", "MooncakeConnector", "P2pNcclConnector"}) {
            assertThat(KvTransferConfig.parse("{\"kv_connector\":\"" + alias + "\",\"kv_role\":\"kv_both\"}").notes()).hasSize(1);
        }
    }

    /** vLLM reads this JSON with pydantic, whose lax mode turns "20001" into 20001: the seed's own config has "kv_port":"20001". */
    @Test
    void numbersAndBoolsAreReadAsPydanticLaxModeReadsThem() {
        KvTransferConfig c = KvTransferConfig.parse("{\"kv_connector\":\"LLMDataDistCMgrConnector\",\"kv_buffer_device\":\"npu\","
                + "\"kv_role\":\"kv_producer\",\"kv_parallel_size\":\"1\",\"kv_port\":\"20001\",\"engine_id\":\"0\","
                + "\"kv_rank\":\" 0 \",\"kv_buffer_size\":\"1e9\",\"enable_permute_local_kv\":\"off\","
                + "\"kv_connector_module_path\":\"vllm_ascend.distributed.llmdatadist_c_mgr_connector\","
                + "\"kv_connector_extra_config\":{\"lease_seconds\":\"2.5\",\"connect_timeout_ms\":\"1_000\",\"read_timeout_ms\":2000.0,"
                + "\"transfer_timeout_ms\":true}}");
        assertThat(c.port()).isEqualTo(20001);
        assertThat(c.parallelSize()).isEqualTo(1);
        assertThat(c.engineId()).isEqualTo("0");
        assertThat(c.lease()).isEqualTo(java.time.Duration.ofMillis(2500));
        assertThat(c.connectTimeoutMs()).isEqualTo(1000);
        assertThat(c.readTimeoutMs()).isEqualTo(2000);
        assertThat(c.transferTimeoutMs()).isEqualTo(1); // a bool is 0 or 1 to pydantic
        assertThat(KvTransferConfig.parse("{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_both\",\"kv_port\":\"+80.00\"}").port()).isEqualTo(80);
    }

    @Test
    void mistakesNameTheField(@TempDir Path tmp) {
        String base = "\"kv_connector\":\"PdTcpConnector\"";
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_prefill\"}"))
                .hasMessage("--kv-transfer-config field 'kv_role' must be one of kv_producer, kv_consumer, kv_both; got 'kv_prefill'");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + "}")).hasMessageContaining("'kv_role' must be one of kv_producer, kv_consumer, kv_both; got nothing");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_port\":\"abc\"}"))
                .hasMessage("--kv-transfer-config field 'kv_port' must be an integer, got \"abc\"");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_port\":80.5}"))
                .hasMessageContaining("field 'kv_port' must be an integer (got a number with a fractional part), got 80.5");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"enable_permute_local_kv\":\"maybe\"}"))
                .hasMessageContaining("field 'enable_permute_local_kv' must be a boolean");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_buffer_size\":\"lots\"}"))
                .hasMessageContaining("field 'kv_buffer_size' must be a number");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_port\":70000}"))
                .hasMessageContaining("'kv_port' must be in [0, 65535], got 70000");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_ip\":5}"))
                .hasMessageContaining("field 'kv_ip' must be a string, got 5");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_load_failure_policy\":\"retry\"}"))
                .hasMessageContaining("'kv_load_failure_policy' must be 'fail' or 'recompute', got 'retry'");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"lease_seconds\":\"x\"}}"))
                .hasMessageContaining("field 'lease_seconds' must be a number");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"lease_seconds\":0}}"))
                .hasMessageContaining("lease_seconds' must be > 0");
        assertThatThrownBy(() -> KvTransferConfig.parse("{" + base + ",\"kv_role\":\"kv_both\",\"kv_connector_extra_config\":{\"cluster_token_file\":\""
                + tmp.resolve("missing") + "\"}}")).hasMessageContaining("cluster_token_file': cannot read");
        assertThatThrownBy(() -> KvTransferConfig.parse("{\"kv_connector\":\"FooConnector\",\"kv_role\":\"kv_both\"}"))
                .hasMessageContaining("unknown connector 'FooConnector'; use PdTcpConnector");
        assertThatThrownBy(() -> KvTransferConfig.parse("{\"kv_role\":\"kv_both\"}")).hasMessageContaining("needs \"kv_connector\"");
        assertThatThrownBy(() -> KvTransferConfig.parse("[1]")).hasMessageContaining("must be a JSON object");
        assertThatThrownBy(() -> KvTransferConfig.parse("{oops")).hasMessageContaining("is not valid JSON");
    }
}
