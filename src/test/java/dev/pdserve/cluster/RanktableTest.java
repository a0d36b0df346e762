package dev.pdserve.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RanktableTest {
    // TEST-NET addresses (RFC 5737): never an address of the test machine.
    static final String NODE_A = "198.51.100.1", NODE_B = "198.51.100.2";

    static Ranktable.Request request(List<String> ips, int npus, int prefill, int decode, List<Integer> cores) {
        return new Ranktable.Request(ips, npus, prefill, decode, Optional.empty(), Optional.empty(), Optional.empty(),
                8100, 20001, cores, Optional.empty(), 8000, Optional.empty());
    }

    static ObjectNode generateValid(Ranktable.Request r) {
        ObjectNode out = Ranktable.generate(r);
        assertThat(ClusterSchema.errors(out)).as("schema errors").isEmpty();
        ClusterSpec.parse(out.toString(), "generated"); // and our own loader accepts it
        return out;
    }

    static List<String> field(JsonNode array, String name) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.get(name).asText()));
        return out;
    }

    @Test
    void oneNodeSplitsItsCoresBetweenPrefillAndDecode() {
        ObjectNode t = generateValid(request(List.of("127.0.0.1"), 2, 1, 1, List.of(8)));
        assertThat(t.get("schema_version").asInt()).isEqualTo(1);
        assertThat(t.get("version").asText()).isEqualTo("1.2");
        assertThat(t.get("server_count").asText()).isEqualTo("1");
        assertThat(t.get("status").asText()).isEqualTo("completed");
        JsonNode p = t.get("prefill_device_list").get(0), d = t.get("decode_device_list").get(0);
        assertThat(List.of(p.get("server_id").asText(), p.get("device_id").asText(), p.get("device_ip").asText(),
                p.get("cluster_id").asText(), p.get("core_set").asText())).containsExactly("127.0.0.1", "0", "127.0.0.1", "1", "0-3");
        assertThat(List.of(d.get("device_id").asText(), d.get("cluster_id").asText(), d.get("core_set").asText()))
                .containsExactly("1", "2", "4-7");
        JsonNode in = t.get("instances");
        assertThat(field(in, "id")).containsExactly("prefill-0", "decode-0");
        assertThat(field(in, "role")).containsExactly("kv_producer", "kv_consumer");
        assertThat(field(in, "http_port")).containsExactly("8100", "8101");
        assertThat(field(in, "kv_port")).containsExactly("20001", "20002");
        assertThat(field(in, "threads")).containsExactly("4", "4");
        assertThat(field(in, "engine_id")).containsExactly("prefill-0", "decode-0");
        assertThat(t.get("proxy").get("host").asText()).isEqualTo("127.0.0.1");
        assertThat(t.get("proxy").get("port").asInt()).isEqualTo(8000);
    }

    @Test
    void twoNodesPutPrefillOnTheFirstAndDecodeAndProxyOnTheSecond() {
        ObjectNode t = generateValid(request(List.of(NODE_A, NODE_B), 1, 1, 1, List.of(4)));
        assertThat(t.get("server_count").asText()).isEqualTo("2");
        assertThat(field(t.get("prefill_device_list"), "server_id")).containsExactly(NODE_A);
        assertThat(field(t.get("decode_device_list"), "server_id")).containsExactly(NODE_B);
        assertThat(field(t.get("decode_device_list"), "cluster_id")).containsExactly("2");
        assertThat(field(t.get("instances"), "host")).containsExactly(NODE_A, NODE_B);
        assertThat(field(t.get("instances"), "kv_ip")).containsExactly(NODE_A, NODE_B);
        // Different nodes, so the same device id (and port) is fine.
        assertThat(field(t.get("instances"), "http_port")).containsExactly("8100", "8100");
        assertThat(t.get("proxy").get("host").asText()).isEqualTo(NODE_B);
    }

    @Test
    void unevenCoreCountsGiveTheFirstInstancesTheSpareCores() {
        ObjectNode t = generateValid(request(List.of(NODE_A, NODE_B), 4, 4, 4, List.of(10, 6)));
        assertThat(field(t.get("prefill_device_list"), "core_set")).containsExactly("0-2", "3-5", "6-7", "8-9");
        assertThat(field(t.get("decode_device_list"), "core_set")).containsExactly("0-1", "2-3", "4", "5");
        assertThat(field(t.get("instances"), "threads")).containsExactly("3", "3", "2", "2", "2", "2", "1", "1");
        assertThat(field(t.get("prefill_device_list"), "cluster_id")).containsExactly("1", "2", "3", "4");
        assertThat(field(t.get("decode_device_list"), "cluster_id")).containsExactly("5", "6", "7", "8");
        assertThat(field(t.get("instances"), "id")).containsExactly(
                "prefill-0", "prefill-1", "prefill-2", "prefill-3", "decode-0", "decode-1", "decode-2", "decode-3");
    }

    @Test
    void prefillTakesTheFirstDevicesAndUnusedDevicesAreLeftOut() {
        ObjectNode t = generateValid(request(List.of(NODE_A, NODE_B), 2, 1, 2, List.of(4)));
        assertThat(field(t.get("prefill_device_list"), "server_id")).containsExactly(NODE_A);
        assertThat(field(t.get("decode_device_list"), "server_id")).containsExactly(NODE_A, NODE_B);
        assertThat(field(t.get("decode_device_list"), "device_id")).containsExactly("1", "0");
        assertThat(field(t.get("decode_device_list"), "cluster_id")).containsExactly("2", "3");
        assertThat(t.get("instances").size()).isEqualTo(3);
        assertThat(t.get("proxy").get("host").asText()).isEqualTo(NODE_A); // the first decode node
    }

    @Test
    void networkCardSetsThisNodesDeviceIpOnly() {
        String lo = LocalNode.interfaceOf(InetAddress.getLoopbackAddress()).orElseThrow();
        var r = new Ranktable.Request(List.of("localhost", NODE_B), 1, 1, 1, Optional.of(lo), Optional.empty(),
                Optional.of("/models/m"), 8100, 20001, List.of(2), Optional.empty(), 8000, Optional.of("/etc/pdserve/token"));
        ObjectNode t = generateValid(r);
        String loIp = LocalNode.addressOfInterface(lo);
        assertThat(field(t.get("prefill_device_list"), "device_ip")).containsExactly(loIp);
        assertThat(field(t.get("prefill_device_list"), "server_id")).containsExactly("localhost");
        assertThat(field(t.get("decode_device_list"), "device_ip")).containsExactly(NODE_B);
        assertThat(field(t.get("instances"), "kv_ip")).containsExactly(loIp, NODE_B);
        assertThat(t.get("model").asText()).isEqualTo("/models/m");
        assertThat(t.get("cluster_token_file").asText()).isEqualTo("/etc/pdserve/token");
    }

    @Test
    void localDeviceIdsRestrictThisNodesDevices() {
        var r = new Ranktable.Request(List.of("127.0.0.1", NODE_B), 4, 2, 1, Optional.empty(), Optional.of(List.of(2, 3)),
                Optional.empty(), 8100, 20001, List.of(8), Optional.empty(), 8000, Optional.empty());
        ObjectNode t = generateValid(r);
        assertThat(field(t.get("prefill_device_list"), "device_id")).containsExactly("2", "3");
        assertThat(field(t.get("prefill_device_list"), "core_set")).containsExactly("4-5", "6-7");
        assertThat(field(t.get("decode_device_list"), "server_id")).containsExactly(NODE_B);
        assertThat(field(t.get("instances"), "http_port")).containsExactly("8102", "8103", "8100");
    }

    @Test
    void badRequestsSayWhatToChange() {
        assertThatThrownBy(() -> Ranktable.generate(request(List.of(NODE_A, NODE_B), 2, 3, 2, List.of(8))))
                .hasMessageContaining("asked for 3 prefill + 2 decode devices, but 2 node(s) x --npus-per-node 2 give only 4");
        assertThatThrownBy(() -> Ranktable.generate(request(List.of(NODE_A), 4, 1, 1, List.of(2))))
                .hasMessageContaining("node " + NODE_A + " has 2 cores, too few for --npus-per-node 4");
        assertThatThrownBy(() -> Ranktable.generate(request(List.of(NODE_A, NODE_A), 1, 1, 1, List.of(2))))
                .hasMessageContaining("--ips lists a node twice");
        assertThatThrownBy(() -> Ranktable.generate(request(List.of(NODE_A, NODE_B), 1, 0, 1, List.of(2))))
                .hasMessageContaining("--prefill-device-cnt must be >= 1");
        assertThatThrownBy(() -> Ranktable.generate(request(List.of(NODE_A, NODE_B), 1, 1, 1, List.of(2, 2, 2))))
                .hasMessageContaining("--cores-per-node takes one count for all nodes or one per --ips entry (2), got 3");
        assertThatThrownBy(() -> Ranktable.generate(new Ranktable.Request(List.of(NODE_A, NODE_B), 1, 1, 1, Optional.of("lo"),
                Optional.empty(), Optional.empty(), 8100, 20001, List.of(2), Optional.empty(), 8000, Optional.empty())))
                .hasMessageContaining("none of --ips [" + NODE_A + ", " + NODE_B + "] is an address of this node");
        assertThatThrownBy(() -> Ranktable.generate(new Ranktable.Request(List.of("127.0.0.1", NODE_B), 1, 1, 1,
                Optional.of("no-such-card0"), Optional.empty(), Optional.empty(), 8100, 20001, List.of(2), Optional.empty(), 8000, Optional.empty())))
                .hasMessageContaining("no network card named \"no-such-card0\" on this node; cards here: ");
        assertThatThrownBy(() -> Ranktable.generate(new Ranktable.Request(List.of("127.0.0.1"), 2, 1, 1, Optional.empty(),
                Optional.of(List.of(0, 2)), Optional.empty(), 8100, 20001, List.of(4), Optional.empty(), 8000, Optional.empty())))
                .hasMessageContaining("--local-device-ids: device 2 does not exist with --npus-per-node 2 (devices are 0..1)");
        assertThatThrownBy(() -> Ranktable.generate(new Ranktable.Request(List.of("127.0.0.1"), 2, 1, 1, Optional.empty(),
                Optional.empty(), Optional.empty(), 8100, 20001, List.of(4), Optional.empty(), 8101, Optional.empty())))
                .hasMessageContaining("--proxy-port 8101 on 127.0.0.1 clashes with decode-0's http port");
        assertThatThrownBy(() -> Ranktable.generate(new Ranktable.Request(List.of("127.0.0.1"), 2, 1, 1, Optional.empty(),
                Optional.empty(), Optional.empty(), 65535, 20001, List.of(4), Optional.empty(), 8000, Optional.empty())))
                .hasMessageContaining("decode-0 would get port 65536, above 65535: lower --http-port-base");
    }

    /** examples/two-nodes/cluster.json is exactly what its README's ranktable command writes. */
    @Test
    void exampleClusterFileMatchesTheDocumentedCommand() throws Exception {
        Path example = dev.pdserve.TestModels.repo().resolve("examples/two-nodes/cluster.json");
        var r = new Ranktable.Request(List.of("10.0.0.1", "10.0.0.2"), 1, 1, 1, Optional.empty(), Optional.empty(),
                Optional.of("models/deepseek-v3-tiny"), 8100, 20001, List.of(16), Optional.empty(), 8000, Optional.empty());
        JsonNode onDisk = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(example));
        assertThat(onDisk).isEqualTo(generateValid(r));
        assertThat(Files.readString(example.resolveSibling("README.md")))
                .contains("--ips 10.0.0.1 10.0.0.2 --npus-per-node 1", "--cores-per-node 16", "--model models/deepseek-v3-tiny -o cluster.json");
        ClusterSpec spec = ClusterSpec.load(example);
        assertThat(spec.instance("prefill-0").host()).isEqualTo("10.0.0.1");
        assertThat(spec.instance("decode-0").host()).isEqualTo("10.0.0.2");
    }

    @Test
    void coreSetsSplitAndCount() {
        assertThat(CoreSets.split(10, 4)).containsExactly("0-2", "3-5", "6-7", "8-9");
        assertThat(CoreSets.split(3, 3)).containsExactly("0", "1", "2");
        assertThat(CoreSets.count("0-3,8,10-11")).isEqualTo(7);
        assertThatThrownBy(() -> CoreSets.split(2, 3)).hasMessageContaining("2 cores cannot give 3 instances a core each");
    }

    @Test
    void commandWritesAFileThatLoadsAndRejectsBadFlagsWithUsageExit(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("cluster.json");
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setErr(new PrintWriter(err));
        int rc = cl.execute("ranktable", "--ips", NODE_A, NODE_B, "--npus-per-node", "1", "--prefill-device-cnt", "1",
                "--decode-device-cnt", "1", "--cores-per-node", "4", "--model", "/models/m", "-o", out.toString());
        assertThat(rc).as(err.toString()).isZero();
        assertThat(ClusterSchema.errors(Files.readString(out))).isEmpty();
        ClusterSpec spec = ClusterSpec.load(out);
        assertThat(spec.prefillers()).extracting(ClusterSpec.Instance::host).containsExactly(NODE_A);
        assertThat(spec.decoders()).extracting(ClusterSpec.Instance::host).containsExactly(NODE_B);
        assertThat(err.toString()).contains("1 prefill + 1 decode instance(s) on 2 node(s), proxy at " + NODE_B + ":8000");

        StringWriter stdout = new StringWriter();
        CommandLine toStdout = Main.commandLine();
        toStdout.setOut(new PrintWriter(stdout));
        toStdout.setErr(new PrintWriter(new StringWriter()));
        assertThat(toStdout.execute("ranktable", "--ips", "127.0.0.1", "--npus-per-node", "2", "--prefill-device-cnt", "1",
                "--decode-device-cnt", "1", "--cores-per-node", "4", "-o", "-")).isZero();
        assertThat(ClusterSpec.parse(stdout.toString(), "stdout").decoders()).extracting(ClusterSpec.Instance::coreSet)
                .containsExactly(Optional.of("2-3"));

        StringWriter err2 = new StringWriter();
        CommandLine cl2 = Main.commandLine();
        cl2.setErr(new PrintWriter(err2));
        int bad = cl2.execute("ranktable", "--ips", NODE_A, "--npus-per-node", "1", "--prefill-device-cnt", "1",
                "--decode-device-cnt", "1", "--cores-per-node", "4", "-o", dir.resolve("bad.json").toString());
        assertThat(bad).isEqualTo(2);
        assertThat(err2.toString()).contains("give only 1");
        assertThat(dir.resolve("bad.json")).doesNotExist();
    }
}
