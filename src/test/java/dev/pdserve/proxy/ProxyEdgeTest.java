package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pdserve.http.HttpEdge;
import dev.pdserve.server.OpenAiServer;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The proxy's HTTP edge is the server's (dev.pdserve.http): body size limit, request id, error shape. */
class ProxyEdgeTest extends ProxyHarness {

    @Test
    void theProxyTakesTheBodiesTheServerTakes() {
        assertThat(new ProxyConfig().maxBodyBytes()).isEqualTo(HttpEdge.MAX_BODY_BYTES)
                .isEqualTo(OpenAiServer.Options.loopback("m").maxBodyBytes());
    }

    @Test
    void aBodyOverTheLimitIs413BeforeAnyInstanceIsCalledAndTheProxyKeepsServing() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        ProxyServer proxy = proxy(List.of(p), List.of(d), c -> c.maxBodyBytes(1024).adminApiKey("k"));
        String big = "{\"prompt\":\"" + "x".repeat(2000) + "\",\"max_tokens\":2}";

        HttpResponse<String> r = post(proxy, "/v1/completions", big);
        assertThat(r.statusCode()).isEqualTo(413);
        JsonNode e = json(r.body()).get("error");
        assertThat(e.get("type").asText()).isEqualTo("RequestEntityTooLargeError");
        assertThat(e.get("code").asInt()).isEqualTo(413);
        assertThat(e.get("message").asText()).isEqualTo("The request body (" + big.length() + " bytes) is over the limit of 1024 bytes");

        // Without Content-Length (chunked), the limit holds while reading.
        HttpRequest chunked = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port() + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(20))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big.getBytes(StandardCharsets.UTF_8)))).build();
        HttpResponse<String> c = HTTP.send(chunked, HttpResponse.BodyHandlers.ofString());
        assertThat(c.statusCode()).isEqualTo(413);
        assertThat(json(c.body()).at("/error/message").asText()).isEqualTo("The request body is over the limit of 1024 bytes");

        // The admin API reads its body under the same limit.
        String manyInstances = "{\"type\":\"decode\",\"instances\":[" + "\"h:1\",".repeat(300) + "\"h:2\"]}";
        assertThat(post(proxy, "/instances/add", manyInstances, "X-API-Key", "k").statusCode()).isEqualTo(413);

        assertThat(p.posts()).isEmpty();
        assertThat(d.posts()).isEmpty();
        assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2}").statusCode()).isEqualTo(200);
    }

    @Test
    void aBlankRequestIdIsReplacedByAFreshOneThatBothInstancesGet() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        HttpResponse<String> r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}", "X-Request-Id", " ");
        assertThat(r.statusCode()).isEqualTo(200);
        String id = r.headers().firstValue("X-Request-Id").orElseThrow();
        assertThat(id).isNotBlank();
        assertThat(p.last().headers()).containsEntry("x-request-id", id);
        assertThat(d.last().headers()).containsEntry("x-request-id", id);
    }
}
