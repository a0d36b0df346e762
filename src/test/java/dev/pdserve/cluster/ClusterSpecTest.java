package dev.pdserve.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.kv.KvRole;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClusterSpecTest {
    /** A hand-written minimal file: kv_ip and engine_id left to their defaults. */
    static final String MINIMAL = """
            {"schema_version": 1,
             "proxy": {"host": "10.0.0.2", "port": 8000},
             "instances": [
               {"id": "prefill-0", "role": "kv_producer", "host": "10.0.0.1", "http_port": 8100, "kv_port": 20001},
               {"id": "decode-0", "role": "kv_consumer", "host": "10.0.0.2", "http_port": 8200, "kv_port": 20002}
             ]}
            """;

    @Test
    void generatedFileRoundTripsThroughLoad(@TempDir Path dir) throws Exception {
        var r = new Ranktable.Request(List.of("198.51.100.1", "198.51.100.2"), 2, 2, 2, Optional.empty(), Optional.empty(),
                Optional.of("/models/m"), 8100, 20001, List.of(8), Optional.empty(), 9000, Optional.of("/etc/pdserve/token"));
        Path file = dir.resolve("cluster.json");
        Files.writeString(file, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(Ranktable.generate(r)));
        ClusterSpec spec = ClusterSpec.load(file);

        assertThat(spec.schemaVersion()).isEqualTo(1);
        assertThat(spec.model()).contains("/models/m");
        assertThat(spec.clusterTokenFile()).contains("/etc/pdserve/token");
        assertThat(spec.proxy()).isEqualTo(new ClusterSpec.Proxy("198.51.100.2", 9000));
        assertThat(spec.prefillers()).extracting(ClusterSpec.Instance::id).containsExactly("prefill-0", "prefill-1");
        assertThat(spec.decoders()).extracting(ClusterSpec.Instance::id).containsExactly("decode-0", "decode-1");
        ClusterSpec.Instance d1 = spec.instance("decode-1");
        assertThat(d1.role()).isEqualTo(KvRole.CONSUMER);
        assertThat(d1.host()).isEqualTo("198.51.100.2");
        assertThat(d1.httpPort()).isEqualTo(8101);
        assertThat(d1.kvPort()).isEqualTo(20002);
        assertThat(d1.kvIp()).isEqualTo("198.51.100.2");
        assertThat(d1.coreSet()).contains("4-7");
        assertThat(d1.threads()).hasValue(4);
        assertThat(d1.clusterId()).contains("4");
        assertThat(d1.httpAddress()).isEqualTo("198.51.100.2:8101");
    }

    @Test
    void kvTransferConfigIsVllmShaped() throws Exception {
        ClusterSpec spec = ClusterSpec.parse(MINIMAL, "minimal.json");
        JsonNode p = new ObjectMapper().readTree(spec.kvTransferConfigJson("prefill-0"));
        assertThat(p.get("kv_connector").asText()).isEqualTo("PdTcpConnector");
        assertThat(p.get("kv_role").asText()).isEqualTo("kv_producer");
        assertThat(p.get("kv_ip").asText()).isEqualTo("10.0.0.1");
        assertThat(p.get("kv_port").isInt()).isTrue();
        assertThat(p.get("kv_port").asInt()).isEqualTo(20001);
        assertThat(p.get("engine_id").asText()).isEqualTo("prefill-0");
        assertThat(p.get("kv_connector_extra_config").get("instance_id").asText()).isEqualTo("prefill-0");
        assertThat(p.get("kv_connector_extra_config").has("cluster_token_file")).isFalse();
        JsonNode d = new ObjectMapper().readTree(spec.kvTransferConfigJson("decode-0"));
        assertThat(d.get("kv_role").asText()).isEqualTo("kv_consumer");
        assertThat(d.get("kv_port").asInt()).isEqualTo(20002);
        assertThat(ClusterSchema.errors(MINIMAL)).isEmpty();
    }

    @Test
    void unknownInstanceListsTheKnownOnes() {
        ClusterSpec spec = ClusterSpec.parse(MINIMAL, "minimal.json");
        assertThatThrownBy(() -> spec.instance("decode-7"))
                .hasMessage("no instance \"decode-7\" in the cluster file; instances are: prefill-0, decode-0");
        assertThatThrownBy(() -> spec.kvTransferConfigJson("nope")).isInstanceOf(ClusterSpecException.class);
    }

    @Test
    void missingFileSaysHowToMakeOne(@TempDir Path dir) {
        assertThatThrownBy(() -> ClusterSpec.load(dir.resolve("cluster.json")))
                .hasMessageContaining("cluster.json: no such file (write one with `pdserve ranktable");
    }

    static String withDecode(String decodeFields) {
        return """
                {"schema_version": 1, "proxy": {"host": "10.0.0.2", "port": 8000},
                 "instances": [
                   {"id": "prefill-0", "role": "kv_producer", "host": "10.0.0.1", "http_port": 8100, "kv_port": 20001},
                   {%s}
                 ]}""".formatted(decodeFields);
    }

    static final String DECODE = "\"id\": \"decode-0\", \"role\": \"kv_consumer\", \"host\": \"10.0.0.2\", ";

    /** Broken files: our loader's message, and whether the JSON schema can express the rule too. */
    static Stream<Arguments> brokenFiles() {
        return Stream.of(
                Arguments.of("missing http_port", withDecode(DECODE + "\"kv_port\": 20002"), true,
                        "broken.json: instances[1] (id \"decode-0\"): missing field \"http_port\""),
                Arguments.of("port out of range", withDecode(DECODE + "\"http_port\": 70000, \"kv_port\": 20002"), true,
                        "instances[1] (id \"decode-0\"): field \"http_port\" must be an integer 1..65535, got 70000"),
                Arguments.of("port as string", withDecode(DECODE + "\"http_port\": \"8200\", \"kv_port\": 20002"), true,
                        "instances[1] (id \"decode-0\"): field \"http_port\" must be an integer 1..65535, got \"8200\""),
                Arguments.of("port zero", withDecode(DECODE + "\"http_port\": 8200, \"kv_port\": 0"), true,
                        "field \"kv_port\" must be an integer 1..65535, got 0"),
                Arguments.of("typo in a field name", withDecode(DECODE + "\"htp_port\": 8200, \"http_port\": 8200, \"kv_port\": 20002"), true,
                        "instances[1] (id \"decode-0\"): unknown field \"htp_port\""),
                Arguments.of("bad role", withDecode("\"id\": \"decode-0\", \"role\": \"decoder\", \"host\": \"h\", \"http_port\": 8200, \"kv_port\": 20002"), true,
                        "instances[1] (id \"decode-0\"): field \"role\": unknown role \"decoder\", expected one of kv_producer, kv_consumer"),
                Arguments.of("bad core_set", withDecode(DECODE + "\"http_port\": 8200, \"kv_port\": 20002, \"core_set\": \"0-3;4\""), true,
                        "field \"core_set\" must be a cpu list"),
                Arguments.of("no decoder", withDecode("\"id\": \"prefill-1\", \"role\": \"kv_producer\", \"host\": \"10.0.0.2\", \"http_port\": 8200, \"kv_port\": 20002"), true,
                        "no kv_consumer instance"),
                Arguments.of("schema_version 2", MINIMAL.replace("\"schema_version\": 1", "\"schema_version\": 2"), true,
                        "schema_version 2 is not supported: this pdserve reads schema_version 1"),
                Arguments.of("no proxy", MINIMAL.replace("\"proxy\": {\"host\": \"10.0.0.2\", \"port\": 8000},", ""), true,
                        "broken.json: missing field \"proxy\""),
                Arguments.of("bad device entry", MINIMAL.replace("\"proxy\"", "\"prefill_device_list\": [{\"server_id\": \"10.0.0.1\", \"device_id\": \"zero\", \"device_ip\": \"10.0.0.1\", \"cluster_id\": \"1\"}], \"proxy\""), true,
                        "prefill_device_list[0]: field \"device_id\" must be a number in a string, like \"1\", got \"zero\""),
                // Rules a JSON schema cannot state; only the loader catches them.
                Arguments.of("duplicate ids", withDecode("\"id\": \"prefill-0\", \"role\": \"kv_consumer\", \"host\": \"10.0.0.2\", \"http_port\": 8200, \"kv_port\": 20002"), false,
                        "instances[1] (id \"prefill-0\"): duplicate id \"prefill-0\""),
                Arguments.of("two listeners on one address", withDecode(DECODE.replace("10.0.0.2", "10.0.0.1") + "\"http_port\": 20001, \"kv_port\": 20002"), false,
                        "10.0.0.1:20001 is used twice: by the instance \"prefill-0\" kv_port and by the instance \"decode-0\" http_port"),
                Arguments.of("duplicate JSON key", withDecode(DECODE + "\"http_port\": 8200, \"http_port\": 8201, \"kv_port\": 20002"), false,
                        "Duplicate field 'http_port'"),
                Arguments.of("not JSON", "{\"schema_version\": 1,\n \"proxy\": }", true,
                        "broken.json: not valid JSON at line 2 column"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenFiles")
    void brokenFilesAreRejectedNamingFieldAndInstance(String name, String json, boolean schemaCatchesIt, String message) {
        assertThatThrownBy(() -> ClusterSpec.parse(json, "broken.json"))
                .isInstanceOf(ClusterSpecException.class)
                .hasMessageContaining(message);
        if (schemaCatchesIt) assertThat(ClusterSchema.errors(json)).as("schema must reject it too").isNotEmpty();
    }
}
