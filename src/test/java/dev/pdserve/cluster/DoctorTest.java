package dev.pdserve.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.TestModels;
import dev.pdserve.cli.Main;
import dev.pdserve.kv.KvRole;
import dev.pdserve.kv.TinyProducer;
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

    /** Stands in for the KV handshake where a test is about the other checks. */
    private static final KvHandshakeCheck NO_KV_CHECK = (spec, instances, timeout) -> instances.stream()
            .map(in -> CheckResult.skip(in.id(), KvHandshakeCheck.CHECK, "kv handshake: not checked by this test")).toList();

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
        DoctorReport r = doctor(cluster(p.entry("prefill-0", KvRole.PRODUCER), d.entry("decode-0", KvRole.CONSUMER)),
                NO_KV_CHECK);

        assertThat(r.exitCode()).as(r.table()).isZero();
        for (String id : List.of("prefill-0", "decode-0")) {
            for (String check : List.of("address", "http", "rtt", "version", "model")) {
                assertThat(row(r, id, check).status()).as(id + "/" + check + "\n" + r.table()).isEqualTo(PASS);
            }
        }
        assertThat(row(r, "prefill-0", "kv_port").status()).isEqualTo(PASS);
        assertThat(row(r, "prefill-0", "kv_handshake")).isEqualTo(
                CheckResult.skip("prefill-0", "kv_handshake", "kv handshake: not checked by this test"));
        // Decoders dial the producers; they have no KV listener to check, and doctor says so instead of failing.
        assertThat(row(r, "decode-0", "kv_port")).isEqualTo(CheckResult.skip("decode-0", "kv_port",
                "kv_consumer instances do not listen on a KV port (they connect to the producers')"));
        assertThat(row(r, "decode-0", "kv_handshake").detail()).startsWith("not tried: consumers do not listen on a KV port");
        assertThat(row(r, "prefill-0", "address").detail()).startsWith("this node: host 127.0.0.1");
        assertThat(row(r, "prefill-0", "version").detail()).isEqualTo("0.1.0 (all 2 answering instances agree)");
        assertThat(row(r, "decode-0", "model").detail()).isEqualTo("tiny (all 2 answering instances agree)");
        assertThat(row(r, "decode-0", "rtt").detail()).matches("median [0-9.]+ ms over 3 GET /health .*");
        assertThat(row(r, "proxy", "port").status()).isEqualTo(PASS);
        assertThat(r.count(SKIP)).isEqualTo(3);
        assertThat(r.summary()).isEqualTo("15 checks: 12 PASS, 0 FAIL, 3 SKIP");
    }

    @Test
    void closedPortIsReportedWithItsFix() throws Exception {
        FakeInstance p = fake("0.1.0", "tiny"), d = fake("0.1.0", "tiny");
        int closed = FakeInstance.closedPort(), closedKv = FakeInstance.closedPort();
        String dead = "{\"id\":\"prefill-1\",\"role\":\"kv_producer\",\"host\":\"127.0.0.1\",\"http_port\":" + closed + ",\"kv_port\":" + closedKv + "}";
        DoctorReport r = doctor(cluster(p.entry("prefill-0", KvRole.PRODUCER), dead, d.entry("decode-0", KvRole.CONSUMER)),
                NO_KV_CHECK);

        assertThat(r.exitCode()).isEqualTo(1);
        CheckResult http = row(r, "prefill-1", "http");
        assertThat(http.status()).isEqualTo(FAIL);
        assertThat(http.detail()).isEqualTo("HTTP port " + closed + " on 127.0.0.1 refused");
        assertThat(http.fix()).isEqualTo("port " + closed + " on 127.0.0.1 refused: start the instance or open the port in the firewall");
        assertThat(row(r, "prefill-1", "kv_port").detail()).isEqualTo("KV port " + closedKv + " on 127.0.0.1 refused");
        assertThat(row(r, "prefill-1", "kv_port").fix()).startsWith("port " + closedKv + " on 127.0.0.1 refused: start the instance");
        assertThat(row(r, "prefill-1", "rtt").status()).isEqualTo(SKIP);
        assertThat(row(r, "prefill-1", "version").status()).isEqualTo(SKIP);
        assertThat(row(r, "prefill-1", "kv_handshake").detail()).isEqualTo("not tried: kv port unreachable");
        assertThat(row(r, "prefill-0", "http").status()).isEqualTo(PASS);
        assertThat(r.table()).contains("fix: port " + closed + " on 127.0.0.1 refused: start the instance or open the port in the firewall");
    }

    @Test
    void versionMismatchFailsTheOddOneOut() throws Exception {
        FakeInstance p0 = fake("0.1.0", "tiny"), p1 = fake("0.1.0", "tiny"), d = fake("0.2.0", "tiny");
        DoctorReport r = doctor(cluster(p0.entry("prefill-0", KvRole.PRODUCER), p1.entry("prefill-1", KvRole.PRODUCER),
                d.entry("decode-0", KvRole.CONSUMER)), NO_KV_CHECK);

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
        DoctorReport r = doctor(cluster(p.entry("prefill-0", KvRole.PRODUCER), d.entry("decode-0", KvRole.CONSUMER)),
                NO_KV_CHECK);

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
        // Generous timeout: the 503 instance must answer within it even on a loaded CI machine.
        DoctorReport r = doctor(cluster(p.entry("prefill-0", KvRole.PRODUCER), silent), NO_KV_CHECK, 3000);

        assertThat(row(r, "prefill-0", "http").detail()).contains("-> 503");
        assertThat(row(r, "prefill-0", "http").fix()).startsWith("the instance is up but not healthy");
        assertThat(row(r, "decode-0", "http").detail()).contains("connected, but no response within 3000 ms");
        assertThat(row(r, "decode-0", "http").fix()).startsWith("the instance is stuck or overloaded");
    }

    @Test
    void pluggedHandshakeCheckGetsTheAnsweringProducersTogether() throws Exception {
        FakeInstance p0 = fake("0.1.0", "tiny"), p1 = fake("0.1.0", "tiny"), d = fake("0.1.0", "tiny");
        String deadKv = p1.entry("prefill-2", KvRole.PRODUCER).replace("\"kv_port\":" + p1.kvPort(), "\"kv_port\":" + FakeInstance.closedPort())
                .replace("\"http_port\":" + p1.httpPort(), "\"http_port\":" + FakeInstance.closedPort());
        List<List<String>> asked = new ArrayList<>();
        KvHandshakeCheck check = (spec, instances, timeout) -> {
            asked.add(instances.stream().map(ClusterSpec.Instance::id).toList());
            return List.of(CheckResult.pass("prefill-0", KvHandshakeCheck.CHECK, "ok"),
                    CheckResult.pass("prefill-1", KvHandshakeCheck.CHECK, "ok"),
                    CheckResult.fail("prefill-0", "kv_agree", "block size 16, but prefill-1 has 32", "use one --block-size"),
                    CheckResult.fail("prefill-1", "kv_agree", "block size 32, but prefill-0 has 16", "use one --block-size"));
        };
        DoctorReport r = doctor(cluster(p0.entry("prefill-0", KvRole.PRODUCER), p1.entry("prefill-1", KvRole.PRODUCER), deadKv,
                d.entry("decode-0", KvRole.CONSUMER)), check);

        assertThat(asked).containsExactly(List.of("prefill-0", "prefill-1"));
        assertThat(row(r, "prefill-0", "kv_handshake").status()).isEqualTo(PASS);
        assertThat(row(r, "prefill-1", "kv_agree").fix()).isEqualTo("use one --block-size");
        assertThat(row(r, "prefill-2", "kv_handshake").detail()).isEqualTo("not tried: kv port unreachable");
        List<String> order = r.results().stream().map(c -> c.instance() + "/" + c.check()).toList();
        assertThat(order).containsSubsequence("prefill-0/model", "prefill-0/kv_handshake", "prefill-0/kv_agree",
                "prefill-1/address", "prefill-1/kv_handshake", "prefill-1/kv_agree", "prefill-2/address");
        assertThat(r.exitCode()).isEqualTo(1);
    }

    @Test
    void localInstanceWithForeignKvIpFailsTheAddressCheck() throws Exception {
        FakeInstance p = fake("0.1.0", "tiny"), d = fake("0.1.0", "tiny");
        String foreign = p.entry("prefill-0", KvRole.PRODUCER).replace("\"kv_port\"", "\"kv_ip\":\"192.0.2.123\",\"kv_port\"");
        DoctorReport r = doctor(cluster(foreign, d.entry("decode-0", KvRole.CONSUMER)), NO_KV_CHECK, 3000);

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
        DoctorReport r = doctor(cluster(p.entry("prefill-0", KvRole.PRODUCER), remote), NO_KV_CHECK, 200);

        assertThat(row(r, "decode-0", "address").detail()).startsWith("remote node: host 198.51.100.2");
        CheckResult reach = row(r, "prefill-0", "reachable");
        assertThat(reach.status()).isEqualTo(FAIL);
        assertThat(reach.detail()).isEqualTo("127.0.0.1 is a loopback or wildcard address but the cluster spans other nodes");
        assertThat(r.exitCode()).isEqualTo(1);
    }

    @Test
    void commandPrintsTableOrJsonAndExitsOneOnFailure(@TempDir Path dir) throws Exception {
        // End to end: HTTP stand-ins, real KV producers (llama-tiny's descriptor) and the real KvDoctorCheck the command builds.
        FakeInstance p = fake("0.1.0", "tiny"), p1 = fake("0.1.0", "tiny"), p2 = fake("0.1.0", "tiny"), d = fake("0.1.0", "tiny");
        String token = "\"cluster_token\":\"s3cret\"";
        TinyProducer kv0 = TinyProducer.start("prefill-0", 16, token), kv1 = TinyProducer.start("prefill-1", 16, token),
                kv32 = TinyProducer.start("prefill-2", 32, token);
        open.addAll(List.of(kv0, kv1, kv32));
        Path tokenFile = Files.writeString(dir.resolve("cluster.token"), "s3cret\n");
        String extra = "{\"schema_version\":1,\"cluster_token_file\":\"" + tokenFile + "\",\"model\":\"" + TestModels.llama() + "\",";
        Path ok = dir.resolve("ok.json");
        Files.writeString(ok, cluster(p.entry("prefill-0", KvRole.PRODUCER, kv0.port()), p1.entry("prefill-1", KvRole.PRODUCER, kv1.port()),
                d.entry("decode-0", KvRole.CONSUMER)).replace("{\"schema_version\":1,", extra));
        StringWriter out = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        assertThat(cl.execute("doctor", "--cluster", ok.toString(), "--timeout-ms", "1500")).as(out.toString()).isZero();
        assertThat(out.toString()).startsWith("INSTANCE")
                .contains("prefill-0  kv_handshake  PASS   cluster token accepted (HMAC proof both ways); engine prefill-0, model sha256:")
                .contains("prefill-1  kv_agree      PASS   block size 16, model sha256:")
                .contains("(as all 2 producers); matches the model folder " + TestModels.llama())
                .contains("decode-0   kv_handshake  SKIP   not tried: consumers do not listen on a KV port")
                .endsWith("24 checks: 22 PASS, 0 FAIL, 2 SKIP\n");

        // A wrong token on this node: the producers reject the proof, doctor says which file to share.
        Path wrong = Files.writeString(dir.resolve("wrong.token"), "guess");
        StringWriter outWrong = new StringWriter();
        CommandLine clWrong = Main.commandLine();
        clWrong.setOut(new PrintWriter(outWrong));
        assertThat(clWrong.execute("doctor", "--cluster", ok.toString(), "--cluster-token-file", wrong.toString())).isEqualTo(1);
        assertThat(outWrong.toString())
                .contains("prefill-0  kv_handshake  FAIL   cluster token mismatch: prefill-0 rejected the proof made with " + wrong)
                .contains("fix: use the same cluster_token_file on every instance: prefill-0's token is not the one in " + wrong)
                .endsWith("24 checks: 20 PASS, 2 FAIL, 2 SKIP\n");

        // A producer started with another --block-size: both sides of the disagreement are named, with the fix.
        Path mixed = dir.resolve("mixed.json");
        Files.writeString(mixed, cluster(p.entry("prefill-0", KvRole.PRODUCER, kv0.port()), p2.entry("prefill-2", KvRole.PRODUCER, kv32.port()),
                d.entry("decode-0", KvRole.CONSUMER)).replace("{\"schema_version\":1,", extra));
        StringWriter outMixed = new StringWriter();
        CommandLine clMixed = Main.commandLine();
        clMixed.setOut(new PrintWriter(outMixed));
        assertThat(clMixed.execute("doctor", "--cluster", mixed.toString())).isEqualTo(1);
        assertThat(outMixed.toString())
                .contains("prefill-2  kv_agree      FAIL   block size 32, but prefill-0 has 16")
                .contains("fix: start every instance with the same --block-size (prefill-2 has 32, prefill-0 has 16)")
                .contains("prefill-0  kv_handshake  PASS");

        Path bad = dir.resolve("bad.json");
        int closed = FakeInstance.closedPort();
        Files.writeString(bad, cluster(p.entry("prefill-0", KvRole.PRODUCER, kv0.port()),
                "{\"id\":\"decode-0\",\"role\":\"kv_consumer\",\"host\":\"127.0.0.1\",\"http_port\":" + closed + ",\"kv_port\":" + d.kvPort() + "}")
                .replace("{\"schema_version\":1,", extra));
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
