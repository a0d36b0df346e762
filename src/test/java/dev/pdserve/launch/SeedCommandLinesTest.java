package dev.pdserve.launch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.Await;
import dev.pdserve.TestLogs;
import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The seed's three command lines (issue 12), word for word but for the model path, hosts and ports:
 * a prefill and a decode `pdserve serve` with vLLM's and vllm-ascend's flags, and `pdserve proxy`,
 * each its own process. The seed's curl through the proxy gets a 200 and the same text as a
 * colocated instance at temperature 0. Then SIGTERM on the proxy: the running stream ends, new
 * requests get 503 JSON.
 *
 * <p>The tiny model's trained length is 1024 tokens and the seed asks for 32768 and 8192, which
 * vLLM refuses too; VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 in the environment, vLLM's own switch, lets
 * the command lines stay as they are.
 */
@ExtendWith(TestLogs.class)
@Timeout(value = 15, unit = TimeUnit.MINUTES)
class SeedCommandLinesTest {
    private static final String HOST = "127.0.0.1";
    private static final Duration READY = Duration.ofMinutes(5);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String CURL_BODY = "{\"model\":\"deepseek\",\"prompt\":\"how is it today\",\"max_tokens\":50,\"temperature\":0}";

    private final Path logs = TestLogs.dir(SeedCommandLinesTest.class);

    /** The flags both seed serve lines share ("..." in the second line). */
    private static List<String> seedServe(Path model, int port, int rpcPort, String maxModelLen, String batched) {
        return new ArrayList<>(List.of("serve", model.toString(), "--host", HOST, "--port", String.valueOf(port),
                "--data-parallel-size", "1", "--data-parallel-size-local", "1",
                "--api-server-count", "1", "--data-parallel-address", HOST, "--data-parallel-rpc-port", String.valueOf(rpcPort),
                "--tensor-parallel-size", "16", "--enable-expert-parallel", "--quantization", "ascend", "--seed", "1024",
                "--served-model-name", "deepseek", "--max-model-len", maxModelLen, "--max-num-batched-tokens", batched, "--max-num-seqs", "64",
                "--trust-remote-code", "--enforce-eager", "--gpu-memory-utilization", "0.9"));
    }

    private static String kvConfig(String role, int kvPort, String engineId) {
        return "{\"kv_connector\":\"LLMDataDistCMgrConnector\",\"kv_buffer_device\":\"npu\",\"kv_role\":\"" + role + "\","
                + "\"kv_parallel_size\":1,\"kv_port\":\"" + kvPort + "\",\"engine_id\":\"" + engineId + "\","
                + "\"kv_connector_module_path\":\"vllm_ascend.distributed.llmdatadist_c_mgr_connector\"}";
    }

    /** {@code env VARS java ... pdserve ARGS}: the environment is the only thing added to the command line. */
    private ProcessSpec spec(String name, List<String> args, int port, String... env) {
        List<String> cmd = new ArrayList<>(List.of("env", "JAVA_TOOL_OPTIONS=-Xmx512m"));
        cmd.addAll(List.of(env));
        cmd.addAll(JavaCommand.pdserve(args, null));
        return new ProcessSpec(name, cmd, logs.resolve(name + ".log"), URI.create("http://" + HOST + ":" + port + "/health"));
    }

    @Test
    void theSeedsCommandLinesServeTheCurlThroughTheProxyAsColocatedDoes() throws Exception {
        Path model = TestModels.deepseek();
        int[] ports = FreePorts.pick(8); // prefill, decode, proxy, colocated http; prefill kv, decode kv; two DP rpc ports
        int prefillPort = ports[0], decodePort = ports[1], proxyPort = ports[2], colocatedPort = ports[3];
        try (ProcessGroup group = new ProcessGroup(Duration.ofSeconds(30))) {
            List<String> prefillArgs = seedServe(model, prefillPort, ports[6], "32768", "32768");
            prefillArgs.addAll(List.of("--kv-transfer-config", kvConfig("kv_producer", ports[4], "0")));
            List<String> decodeArgs = seedServe(model, decodePort, ports[7], "8192", "256");
            decodeArgs.addAll(List.of("--kv-transfer-config", kvConfig("kv_consumer", ports[5], "1"),
                    "--additional-config", "{\"torchair_graph_config\":{\"enabled\":true}}"));
            List<String> colocatedArgs = seedServe(model, colocatedPort, ports[6], "32768", "32768");

            ManagedProcess prefill = group.start(spec("prefill", prefillArgs, prefillPort, "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"));
            ManagedProcess decode = group.start(spec("decode", decodeArgs, decodePort, "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1", "VLLM_CPU_KVCACHE_SPACE=2"));
            ManagedProcess colocated = group.start(spec("colocated", colocatedArgs, colocatedPort, "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"));
            prefill.awaitReady(READY);
            decode.awaitReady(READY);
            colocated.awaitReady(READY);
            ManagedProcess proxy = group.start(spec("proxy", List.of("proxy", "--host", HOST, "--port", String.valueOf(proxyPort),
                    "--prefiller-hosts", HOST, "--prefiller-ports", String.valueOf(prefillPort),
                    "--decoder-hosts", HOST, "--decoder-ports", String.valueOf(decodePort)), proxyPort));
            proxy.awaitReady(READY);

            HttpResponse<String> viaProxy = post(proxyPort, CURL_BODY);
            HttpResponse<String> alone = post(colocatedPort, CURL_BODY);
            assertThat(viaProxy.statusCode()).as(viaProxy.body()).isEqualTo(200);
            assertThat(alone.statusCode()).as(alone.body()).isEqualTo(200);
            JsonNode pd = JSON.readTree(viaProxy.body()), co = JSON.readTree(alone.body());
            assertThat(pd.at("/model").asText()).isEqualTo("deepseek");
            assertThat(pd.at("/usage/completion_tokens").asInt()).isPositive();
            assertThat(pd.at("/choices/0/text").asText()).isNotEmpty().isEqualTo(co.at("/choices/0/text").asText());
            assertThat(pd.at("/usage")).isEqualTo(co.at("/usage"));
            // The decode instance pulled the prompt's KV from the prefill instance rather than recomputing it.
            Await.until("the decode instance to count a KV pull", () -> metric(decodePort, "pdserve:kv_transfer_seconds_count") >= 1);

            // One line each for what pdserve does instead, and the long max-model-len allowed by vLLM's switch.
            String prefillLog = Files.readString(prefill.logFile()), decodeLog = Files.readString(decode.logFile());
            assertThat(prefillLog).contains("--data-parallel-size-local 1: ", "--api-server-count 1: ", "--data-parallel-rpc-port " + ports[6] + ": ",
                    "--data-parallel-address 127.0.0.1: ", "--tensor-parallel-size 16: ", "--gpu-memory-utilization 0.9: ",
                    "kv_connector LLMDataDistCMgrConnector is not available in pdserve", "kv_buffer_device npu",
                    "--max-model-len 32768 is greater than the model's maximum length 1024", "served anyway because VLLM_ALLOW_LONG_MAX_MODEL_LEN",
                    "KV cache: 4.00 GiB (vLLM's CPU default");
            assertThat(decodeLog).contains("--additional-config: torchair_graph_config.enabled=true: ", "KV cache: 2.00 GiB (VLLM_CPU_KVCACHE_SPACE=2)",
                    "--max-model-len 8192 is greater than");
            assertThat(prefillLog.lines().filter(l -> l.contains("--data-parallel-size-local"))).hasSize(1);

            sigtermDrainsTheProxy(proxy, proxyPort);
        }
    }

    /** SIGTERM on the proxy: the stream it relays runs to its end; a new request gets 503 JSON, not a refused connection. */
    private static void sigtermDrainsTheProxy(ManagedProcess proxy, int proxyPort) throws Exception {
        CompletableFuture<String> stream = CompletableFuture.supplyAsync(() -> {
            try {
                HttpRequest r = HttpRequest.newBuilder(URI.create("http://" + HOST + ":" + proxyPort + "/v1/completions"))
                        .timeout(Duration.ofMinutes(5)).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"deepseek\",\"prompt\":\"how is it today\",\"max_tokens\":2000,"
                                + "\"ignore_eos\":true,\"temperature\":0,\"stream\":true}")).build();
                HttpResponse<InputStream> res = HTTP.send(r, HttpResponse.BodyHandlers.ofInputStream());
                return res.statusCode() + "\n" + new String(res.body().readAllBytes(), StandardCharsets.UTF_8);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Await.until("the stream to run through the proxy", Duration.ofMinutes(2),
                () -> JSON.readTree(get(proxyPort, "/healthcheck").body()).get("request_num").asInt() == 1);
        proxy.terminate();
        Await.until("the proxy to drain", () -> get(proxyPort, "/health").statusCode() == 503);
        HttpResponse<String> refused = post(proxyPort, CURL_BODY);
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(refused.body()).at("/error/message").asText()).contains("shutting down");
        String streamed = stream.get(5, TimeUnit.MINUTES);
        assertThat(streamed).startsWith("200\n").contains("\"finish_reason\":\"length\"").endsWith("data: [DONE]\n\n");
        assertThat(proxy.awaitExit(Duration.ofMinutes(1))).isNotNegative();
        assertThat(Files.readString(proxy.logFile())).contains("pdserve proxy: drained, bye");
    }

    private static HttpResponse<String> post(int port, String body) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://" + HOST + ":" + port + "/v1/completions")).timeout(Duration.ofMinutes(3))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return HTTP.send(r, HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://" + HOST + ":" + port + path)).timeout(Duration.ofSeconds(30)).GET().build();
        return HTTP.send(r, HttpResponse.BodyHandlers.ofString());
    }

    private static double metric(int port, String name) throws Exception {
        double sum = 0;
        for (String line : get(port, "/metrics").body().lines().toList()) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        return sum;
    }
}
