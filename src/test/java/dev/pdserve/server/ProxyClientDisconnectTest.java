package dev.pdserve.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.http.TcpPeerTest;
import dev.pdserve.proxy.InstanceAddress;
import dev.pdserve.proxy.ProxyConfig;
import dev.pdserve.proxy.ProxyServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The PD proxy in front of a prefill and a decode server, each an OpenAiServer over a slow
 * ScriptedEngine (which is why this test lives in this package), all on loopback. A non-streaming
 * client that closes its connection while an instance computes makes the proxy cancel that call;
 * the instance sees its connection closed, aborts and frees its blocks. A client that waits gets
 * its whole answer.
 */
class ProxyClientDisconnectTest {
    static final String PROXY_DISCONNECT = "pdserve_proxy_requests_total{outcome=\"client_disconnect\"} 1.0";
    static final String LONG = "{\"prompt\":\"hello\",\"max_tokens\":3000}";

    ScriptedEngine prefillEngine, decodeEngine;
    OpenAiServer prefill, decode;
    ProxyServer proxy;

    @BeforeEach
    void linuxOnly() {
        assumeTrue(TcpPeerTest.LINUX, "the kernel is asked through Linux's sock_diag");
    }

    void start(long prefillStepMillis) {
        prefillEngine = new ScriptedEngine(4096, prefillStepMillis);
        decodeEngine = new ScriptedEngine(4096, 10);
        prefill = new OpenAiServer(prefillEngine, prefillEngine.codec(), OpenAiServer.Options.loopback("tiny")).start();
        decode = new OpenAiServer(decodeEngine, decodeEngine.codec(), OpenAiServer.Options.loopback("tiny")).start();
        proxy = ProxyServer.start(new ProxyConfig().host("127.0.0.1").port(0)
                .prefillers(List.of(new InstanceAddress("127.0.0.1", prefill.port())))
                .decoders(List.of(new InstanceAddress("127.0.0.1", decode.port())))
                .healthInterval(Duration.ZERO).requestTimeout(Duration.ofSeconds(60)));
    }

    @AfterEach
    void stop() {
        if (proxy != null) proxy.close();
        for (AutoCloseable c : new AutoCloseable[] {prefill, decode, prefillEngine, decodeEngine}) {
            try {
                if (c != null) c.close();
            } catch (Exception ignored) {
                // closing the others matters more
            }
        }
    }

    Socket sendToProxy(String body) throws Exception {
        Socket s = new Socket("127.0.0.1", proxy.port());
        s.getOutputStream().write(ClientDisconnectTest.post(body));
        s.getOutputStream().flush();
        return s;
    }

    String proxyMetrics() throws Exception {
        return new Http(proxy.port()).get("/metrics").body();
    }

    @Test
    void clientThatClosesDuringTheDecodeAbortsItThere() throws Exception {
        start(10);
        Socket s = sendToProxy(LONG);
        until("the decode to hold blocks", () -> decodeEngine.blocksUsed() > 0);
        long closed = System.nanoTime();
        s.close();
        until("the decode to be aborted", () -> !decodeEngine.aborted.isEmpty());
        until("the decode's blocks to be freed", () -> decodeEngine.blocksUsed() == 0);
        // 3000 tokens at 10 ms would take 30 s; the proxy, then the decode server, ask the kernel every 100 ms.
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closed)).isLessThan(3000);
        assertThat(decodeEngine.aborted).hasSize(1);
        assertThat(decodeEngine.stats().kvCacheUsage()).isZero();
        until("the decode server to count the abort", () -> decode.metrics().scrape().contains(ClientDisconnectTest.ABORT_METRIC));
        until("the proxy to count the disconnect", () -> proxyMetrics().contains(PROXY_DISCONNECT));
        assertThat(prefillEngine.aborted).isEmpty(); // its one token was done before the client left
        assertThat(prefillEngine.blocksUsed()).isZero();
    }

    @Test
    void clientThatClosesDuringThePrefillAbortsItAndNothingReachesTheDecode() throws Exception {
        start(60_000); // the prefill's one token would take a minute
        Socket s = sendToProxy(LONG);
        until("the prefill to hold blocks", () -> prefillEngine.blocksUsed() > 0);
        s.close();
        until("the prefill to be aborted", () -> !prefillEngine.aborted.isEmpty());
        until("the prefill's blocks to be freed", () -> prefillEngine.blocksUsed() == 0);
        assertThat(prefillEngine.aborted).hasSize(1);
        until("the proxy to count the disconnect", () -> proxyMetrics().contains(PROXY_DISCONNECT));
        assertThat(decodeEngine.submitted).isEmpty();
    }

    @Test
    void clientThatWaitsGetsItsWholeAnswer() throws Exception {
        start(10);
        // 40 tokens at 10 ms: several checks of the client's connection on the way.
        HttpResponse<String> r = new Http(proxy.port()).post("/v1/completions", "{\"prompt\":\"hello\",\"max_tokens\":40}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode answer = Http.json(r);
        assertThat(answer.at("/usage/completion_tokens").asInt()).isEqualTo(40);
        assertThat(answer.at("/choices/0/text").asText()).hasSize(40);
        // It went the PD way: the decode got the booking the prefill answered.
        assertThat(decodeEngine.submitted.getFirst().kvTransferParams().path("remote_engine_id").asText()).isEqualTo("scripted");
        assertThat(prefillEngine.aborted).isEmpty();
        assertThat(decodeEngine.aborted).isEmpty();
        String metrics = proxyMetrics();
        assertThat(metrics).contains("pdserve_proxy_requests_total{outcome=\"success\"} 1.0")
                .contains("pdserve_proxy_requests_total{outcome=\"client_disconnect\"} 0.0");
    }
}
