package dev.pdserve.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.cli.Main;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.pdserve.cluster.CheckResult.Status.FAIL;
import static dev.pdserve.cluster.CheckResult.Status.PASS;
import static dev.pdserve.cluster.CheckResult.Status.SKIP;
import static org.assertj.core.api.Assertions.assertThat;

class DoctorTest {
    private final List<AutoCloseable> open = new ArrayList<>();
    private ServerSocket proxy;

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open) c.close();
    }

    private FakeInstance fake(String version, String model) throws IOException {
        FakeInstance f = new FakeInstance(version, model);
        open.add(f);
        return f;
    }

    /** A listening socket standing in for the proxy port. */
    private int proxyPort() throws IOException {
        if (proxy == null) {
            proxy = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            open.add(proxy);
        }
        return proxy.getLocalPort();
    }

    private String cluster(String... entries) throws IOException {
        return "{\"schema_version\":1,\"proxy\":{\"host\":\"127.0.0.1\",\"port\":" + proxyPort() + "},\"instances\":["
                + String.join(",", entries) + "]}";
    }

    private static DoctorReport doctor(String json, KvHandshakeCheck handshake) {
        return doctor(json, handshake, 1500);
    }

    private static DoctorReport doctor(String json, KvHandshakeCheck handshake, int timeoutMs) {
        try (Doctor d = new Doctor(Duration.ofMillis(timeoutMs), Optional.empty(), handshake)) {
            return d.run(ClusterSpec.parse(json, "test.json"));
        }
    }

    private static CheckResult row(DoctorReport r, String instance, String check) {
        return r.results().stream().filter(c -> c.instance().equals(instance) && c.check().equals(check)).findFirst()
                .orElseThrow(() -> new AssertionError("no row " + instance + "/" + check + " in\n" + r.table()));
    }

    @Test
    void healthyClusterPassesAndCountsTheHandshakeAsSkip() throws Exception {
        FakeInstance p = fake("0.1.0", "tiny"), d = fake("0.1.0", "tiny");
        DoctorReport r = doctor(cluster(p.entry("prefill-0", Role.KV_PRODUCER), d.entry("decode-0", Role.KV_CONSUMER)),
                KvHandshakeCheck.UNAVAILABLE);

        assertThat(r.exitCode()).as(r.table()).isZero();
        for (String id : List.of("prefill-0", "decode-0")) {
            for (String check : List.of("address", "http", "rtt", "kv_port", "version", "model")) {
                assertThat(row(r, id, check).status()).as(id + "/" + check + "\n" + r.table()).isEqualTo(PASS);
            }
            assertThat(row(r, id, "kv_handshake")).isEqualTo(
                    CheckResult.skip(id, "kv_handshake", "kv handshake: not available in this build"));
        }
        assertThat(row(r, "prefill-0", "address").detail()).startsWith("this node: host 127.0.0.1");
        assertThat(row(r, "prefill-0", "version").detail()).isEqualTo("0.1.0 (all 2 answering instances agree)");
        assertThat(row(r, "decode-0", "model").detail()).isEqualTo("tiny (all 2 answering instances agree)");
        assertThat(row(r, "decode-0", "rtt").detail()).matches("median [0-9.]+ ms over 3 GET /health .*");
        assertThat(row(r, "proxy", "port").status()).isEqualTo(PASS);
        assertThat(r.count(SKIP)).isEqualTo(2);
        assertThat(r.summary()).isEqualTo("15 checks: 13 PASS, 0 FAIL, 2 SKIP");
    }

    @Test
    void closedPortIsReportedWithItsFix() throws Exception {
        FakeInstance p = fake("0.1.0", "tiny");
        int closed = FakeInstance.closedPort(), closedKv = FakeInstance.closedPort();
        String dead = "{\"id\":\"decode-0\",\"role\":\"kv_consumer\",\"host\":\"127.0.0.1\",\"http_port\":" + closed + ",\"kv_port\":" + closedKv + "}";
        DoctorReport r = doctor(cluster(p.entry("prefill-0", Role.KV_PRODUCER), dead), KvHandshakeCheck.UNAVAILABLE);

        assertThat(r.exitCode()).isEqualTo(1);
        CheckResult http = row(r, "decode-0", "http");
        assertThat(http.status()).isEqualTo(FAIL);
        assertThat(http.detail()).isEqualTo("HTTP port " + closed + " on 127.0.0.1 refused");
        assertThat(http.fix()).isEqualTo("port " + closed + " on 127.0.0.1 refused: start the instance or open the port in the firewall");
        assertThat(row(r, "decode-0", "kv_port").fix()).startsWith("port " + closedKv + " on 127.0.0.1 refused: start the instance");
        assertThat(row(r, "decode-0", "rtt").status()).isEqualTo(SKIP);
        assertThat(row(r, "decode-0", "version").status()).isEqualTo(SKIP);
        assertThat(row(r, "decode-0", "kv_handshake").detail()).isEqualTo("not tried: kv port unreachable");
        assertThat(row(r, "prefill-0", "http").status()).isEqualTo(PASS);
        assertThat(r.table()).contains("fix: port " + closed + " on 127.0.0.1 refused: start the instance or open the port in the firewall");
    }

    @Test
    void versionMismatchFailsTheOddOneOut() throws Exception {
        FakeInstance p0 = fake("0.1.0", "tiny"), p1 = fake("0.1.0", "tiny"), d = fake("0.2.0", "tiny");
        DoctorReport r = doctor(cluster(p0.entry("prefill-0", Role.KV_PRODUCER), p1.entry("prefill-1", Role.KV_PRODUCER),
                d.entry("decode-0", Role.KV_CONSUMER)), KvHandshakeCheck.UNAVAILABLE);

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(row(r, "prefill-0", "version").status()).isEqualTo(PASS);
        CheckResult bad = row(r, "decode-0", "version");
        assertThat(bad.status()).isEqualTo(FAIL);
        assertThat(bad.detail()).isEqualTo("0.2.0, but prefill-0, prefill-1 have 0.1.0");
        assertThat(bad.fix()).startsWith("run the same pdserve build on every node");
        assertThat(row(r, "decode-0", "model").status()).isEqualTo(PASS);
    }

    @Test
    void modelMismatchWithoutMajorityFailsBoth() throws Exception {
        FakeInstance p = fake("0.1.0", "llama-tiny"), d = fake("0.1.0", "deepseek-v3-tiny");
        DoctorReport r = doctor(cluster(p.entry("prefill-0", Role.KV_PRODUCER), d.entry("decode-0", Role.KV_CONSUMER)),
                KvHandshakeCheck.UNAVAILABLE);

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(row(r, "prefill-0", "model").detail()).isEqualTo("llama-tiny, but decode-0 has deepseek-v3-tiny");
        assertThat(row(r, "decode-0", "model").status()).isEqualTo(FAIL);
        assertThat(row(r, "decode-0", "model").fix()).startsWith("serve the same model");
        assertThat(row(r, "decode-0", "version").status()).isEqualTo(PASS);
    }

    @Test
    void unhealthyAndSilentInstancesAreTold() throws Exception {
        FakeInstance p = fake("0.1.0", "tiny");
        p.healthStatus = 503;
        // Accepts connections (kernel backlog) but never answers: a hung process.
        ServerSocket hung = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        open.add(hung);
        String silent = "{\"id\":\"decode-0\",\"role\":\"kv_consumer\",\"host\":\"127.0.0.1\",\"http_port\":" + hung.getLocalPort()
                + ",\"kv_port\":" + FakeInstance.closedPort() + "}";
        DoctorReport r = doctor(cluster(p.entry("prefill-0", Role.KV_PRODUCER), silent), KvHandshakeCheck.UNAVAILABLE, 300);

        assertThat(row(r, "prefill-0", "http").detail()).contains("-> 503");
        assertThat(row(r, "prefill-0", "http").fix()).startsWith("the instance is up but not healthy");
        assertThat(row(r, "decode-0", "http").detail()).contains("connected, but no response within 300 ms");
        assertThat(row(r, "decode-0", "http").fix()).startsWith("the instance is stuck or overloaded");
    }

    @Test
    void pluggedHandshakeCheckIsUsedOnlyWhenTheKvPortAnswers() throws Exception {
        FakeInstance p = fake("0.1.0", "tiny"), d = fake("0.1.0", "tiny");
        List<String> asked = new ArrayList<>();
        KvHandshakeCheck check = (spec, in, timeout) -> {
            synchronized (asked) {
                asked.add(in.id());
            }
            return in.role() == Role.KV_CONSUMER
                    ? CheckResult.fail(in.id(), KvHandshakeCheck.CHECK, "block size 16 here, 32 on prefill-0", "use one --block-size")
                    : CheckResult.pass(in.id(), KvHandshakeCheck.CHECK, "ok");
        };
        DoctorReport r = doctor(cluster(p.entry("prefill-0", Role.KV_PRODUCER), d.entry("decode-0", Role.KV_CONSUMER)), check);

        assertThat(asked).containsExactlyInAnyOrder("prefill-0", "decode-0");
        assertThat(row(r, "prefill-0", "kv_handshake").status()).isEqualTo(PASS);
        assertThat(row(r, "decode-0", "kv_handshake").fix()).isEqualTo("use one --block-size");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.count(SKIP)).isZero();
    }

    @Test
    void localInstanceWithForeignKvIpFailsTheAddressCheck() throws Exception {
        FakeInstance p = fake("0.1.0", "tiny"), d = fake("0.1.0", "tiny");
        String foreign = p.entry("prefill-0", Role.KV_PRODUCER).replace("\"kv_port\"", "\"kv_ip\":\"192.0.2.123\",\"kv_port\"");
        DoctorReport r = doctor(cluster(foreign, d.entry("decode-0", Role.KV_CONSUMER)), KvHandshakeCheck.UNAVAILABLE, 300);

        CheckResult a = row(r, "prefill-0", "address");
        assertThat(a.status()).as(r.table()).isEqualTo(FAIL);
        assertThat(a.detail()).contains("kv_ip 192.0.2.123 -> 192.0.2.123").endsWith("but kv_ip is not an address of this node");
        assertThat(a.fix()).contains("--network-card-name");
        assertThat(row(r, "decode-0", "address").status()).isEqualTo(PASS);
    }

    @Test
    void loopbackAddressesInAMultiNodeClusterAreFlagged() throws Exception {
        FakeInstance p = fake("0.1.0", "tiny");
        String remote = "{\"id\":\"decode-0\",\"role\":\"kv_consumer\",\"host\":\"198.51.100.2\",\"http_port\":8100,\"kv_port\":20001}";
        DoctorReport r = doctor(cluster(p.entry("prefill-0", Role.KV_PRODUCER), remote), KvHandshakeCheck.UNAVAILABLE, 200);

        assertThat(row(r, "decode-0", "address").detail()).startsWith("remote node: host 198.51.100.2");
        CheckResult reach = row(r, "prefill-0", "reachable");
        assertThat(reach.status()).isEqualTo(FAIL);
        assertThat(reach.detail()).isEqualTo("127.0.0.1 is a loopback or wildcard address but the cluster spans other nodes");
        assertThat(r.exitCode()).isEqualTo(1);
    }

    @Test
    void commandPrintsTableOrJsonAndExitsOneOnFailure(@TempDir Path dir) throws Exception {
        FakeInstance p = fake("0.1.0", "tiny"), d = fake("0.1.0", "tiny");
        Path ok = dir.resolve("ok.json");
        Files.writeString(ok, cluster(p.entry("prefill-0", Role.KV_PRODUCER), d.entry("decode-0", Role.KV_CONSUMER)));
        StringWriter out = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        assertThat(cl.execute("doctor", "--cluster", ok.toString(), "--timeout-ms", "1500")).as(out.toString()).isZero();
        assertThat(out.toString()).startsWith("INSTANCE").contains("decode-0   kv_handshake  SKIP   kv handshake: not available in this build")
                .endsWith("15 checks: 13 PASS, 0 FAIL, 2 SKIP\n");

        Path bad = dir.resolve("bad.json");
        int closed = FakeInstance.closedPort();
        Files.writeString(bad, cluster(p.entry("prefill-0", Role.KV_PRODUCER),
                "{\"id\":\"decode-0\",\"role\":\"kv_consumer\",\"host\":\"127.0.0.1\",\"http_port\":" + closed + ",\"kv_port\":" + d.kvPort() + "}"));
        StringWriter json = new StringWriter();
        CommandLine cl2 = Main.commandLine();
        cl2.setOut(new PrintWriter(json));
        assertThat(cl2.execute("doctor", "--cluster", bad.toString(), "--json")).isEqualTo(1);
        JsonNode report = new ObjectMapper().readTree(json.toString());
        assertThat(report.get("ok").asBoolean()).isFalse();
        assertThat(report.get("summary").get("fail").asInt()).isEqualTo(1);
        JsonNode failed = null;
        for (JsonNode c : report.get("checks")) if (c.get("status").asText().equals("FAIL")) failed = c;
        assertThat(failed).isNotNull();
        assertThat(failed.get("instance").asText()).isEqualTo("decode-0");
        assertThat(failed.get("fix").asText()).startsWith("port " + closed + " on 127.0.0.1 refused");

        StringWriter err = new StringWriter();
        CommandLine cl3 = Main.commandLine();
        cl3.setErr(new PrintWriter(err));
        Files.writeString(dir.resolve("broken.json"), "{\"schema_version\":1}");
        assertThat(cl3.execute("doctor", "--cluster", dir.resolve("broken.json").toString())).isEqualTo(1);
        assertThat(err.toString()).contains("broken.json: missing field \"proxy\"");
    }
}
