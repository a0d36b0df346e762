package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/** The admin API (vllm-ascend compatible), /healthcheck, /health, /v1/models and /metrics. */
class ProxyAdminTest extends ProxyHarness {

    @Test
    void adminApiIsForbiddenWithoutAConfiguredKey() throws Exception {
        FakeInstance p = fake("P"), d = fake("D"), extra = fake("X");
        ProxyServer proxy = proxy(List.of(p), List.of(d));
        HttpResponse<String> r = post(proxy, "/instances/add",
                "{\"type\":\"decode\",\"instances\":[\"" + extra.address() + "\"]}", "X-API-Key", "anything");
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(json(r.body()).at("/error/message").asText()).contains("--admin-api-key");
        assertThat(json(get(proxy, "/healthcheck").body()).get("decode_instances").asInt()).isEqualTo(1);
    }

    @Test
    void malformedAddressesAndWrongMethodsGetJson4xx() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        ProxyServer proxy = proxy(List.of(p), List.of(d), c -> c.adminApiKey("s3cret"));
        for (String bad : List.of("127.0.0.1/../x:80", "[http://127.0.0.1]:60597", "http://127.0.0.1:8000", "127.0.0.1:0", "127.0.0.1:70000", "host name:80")) {
            HttpResponse<String> r = post(proxy, "/instances/add", "{\"type\":\"decode\",\"instances\":[\"" + bad + "\"]}", "X-API-Key", "s3cret");
            assertThat(r.statusCode()).as(bad).isEqualTo(400);
            assertThat(json(r.body()).at("/error/message").asText()).as(bad).isNotBlank();
        }
        HttpResponse<String> r = get(proxy, "/instances/add");
        assertThat(r.statusCode()).isEqualTo(405);
        assertThat(json(r.body()).at("/error/message").asText()).isNotBlank();
        assertThat(json(get(proxy, "/healthcheck").body()).get("decode_instances").asInt()).isEqualTo(1); // nothing was added
        for (String good : List.of("localhost:80", "[::1]:8000", "10.0.0.1:1", "decode_0.cluster.local:8200")) {
            assertThat(InstanceAddress.parse(good).port()).as(good).isPositive();
        }
    }

    @Test
    void addAndRemoveInstancesWithTheKey() throws Exception {
        FakeInstance p = fake("P"), d = fake("D"), d2 = fake("D2");
        ProxyServer proxy = proxy(List.of(p), List.of(d), c -> c.adminApiKey("s3cret").healthInterval(Duration.ofSeconds(30)));
        String add = "{\"type\":\"decode\",\"instances\":[\"" + d2.address() + "\"]}";
        assertThat(post(proxy, "/instances/add", add).statusCode()).isEqualTo(401);
        assertThat(post(proxy, "/instances/add", add, "X-API-Key", "wrong").statusCode()).isEqualTo(401);
        assertThat(post(proxy, "/instances/add", add, "Authorization", "Bearer wrong").statusCode()).isEqualTo(401);

        HttpResponse<String> r = post(proxy, "/instances/add", add, "X-API-Key", "s3cret");
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode body = json(r.body());
        assertThat(body.get("message").asText()).contains("Added decode instances").contains(d2.address().toString());
        assertThat(body.get("current_decode_instances")).isEqualTo(json("[\"" + d.address() + "\",\"" + d2.address() + "\"]"));
        assertThat(body.get("current_prefill_instances")).isEqualTo(json("[\"" + p.address() + "\"]"));
        assertThat(d2.healthHits.get()).isEqualTo(1); // probed before it takes traffic

        // Both decoders now take requests.
        for (int i = 0; i < 4; i++) assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(200);
        assertThat(d2.posts()).isNotEmpty();
        assertThat(d.posts()).isNotEmpty();

        // vllm-ascend also sends a single string; "instance" is accepted too.
        r = post(proxy, "/instances/remove", "{\"type\":\"decode\",\"instance\":\"" + d.address() + "\"}", "Authorization", "Bearer s3cret");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r.body()).get("current_decode_instances")).isEqualTo(json("[\"" + d2.address() + "\"]"));
        int before = d.posts().size();
        for (int i = 0; i < 3; i++) assertThat(post(proxy, "/v1/completions", "{\"prompt\":\"x\"}").statusCode()).isEqualTo(200);
        assertThat(d.posts()).hasSize(before);

        r = post(proxy, "/instances/remove", "{\"type\":\"decode\",\"instances\":\"" + d.address() + "\"}", "X-API-Key", "s3cret");
        assertThat(r.statusCode()).isEqualTo(404);
        r = post(proxy, "/instances/add", "{\"type\":\"encode\",\"instances\":[\"h:1\"]}", "X-API-Key", "s3cret");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r.body()).at("/error/message").asText()).contains("'prefill' or 'decode'");
        r = post(proxy, "/instances/add", "{\"type\":\"prefill\",\"instances\":[\"nohostport\"]}", "X-API-Key", "s3cret");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(post(proxy, "/instances/add", "{\"type\":\"prefill\"}", "X-API-Key", "s3cret").statusCode()).isEqualTo(400);
    }

    @Test
    void anAddedInstanceThatIsNotUpWaitsForItsHealthProbe() throws Exception {
        FakeInstance p = fake("P"), d = fake("D"), late = fake("LATE");
        late.healthStatus = 503;
        ProxyServer proxy = proxy(List.of(p), List.of(d), c -> c.adminApiKey("k").healthInterval(Duration.ofMillis(100)));
        HttpResponse<String> r = post(proxy, "/instances/add", "{\"type\":\"prefill\",\"instances\":[\"" + late.address() + "\"]}", "X-API-Key", "k");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r.body()).get("message").asText()).contains("waiting");
        for (int i = 0; i < 3; i++) post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(late.posts()).isEmpty();
        assertThat(json(get(proxy, "/healthcheck").body()).at("/prefill/1/last_error").asText()).contains("503");
        List<LogRecord> logs = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override public void publish(LogRecord rec) { logs.add(rec); }
            @Override public void flush() { }
            @Override public void close() { }
        };
        Logger log = Logger.getLogger("dev.pdserve.proxy");
        log.addHandler(capture);
        try {
            late.healthStatus = 200;
            until("late instance healthy", () -> json(get(proxy, "/healthcheck").body()).at("/prefill/1/healthy").asBoolean());
        } finally {
            log.removeHandler(capture);
        }
        // Healthy, so no error beside it; and its first passing probe is news (INFO), not a recovery warning.
        assertThat(json(get(proxy, "/healthcheck").body()).at("/prefill/1/last_error").isNull()).isTrue();
        assertThat(logs).filteredOn(rec -> rec.getMessage().contains(late.address().toString()))
                .extracting(LogRecord::getLevel, LogRecord::getMessage)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(Level.INFO, "prefill instance " + late.address() + " is healthy"));
        for (int i = 0; i < 3; i++) post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(late.posts()).isNotEmpty();
    }

    @Test
    void healthcheckReportsStatesAndLoads() throws Exception {
        FakeInstance p = fake("P"), d = fake("D");
        d.kvUsage = 0.25;
        ProxyServer proxy = proxy(List.of(p), List.of(d), c -> c.healthInterval(Duration.ofMillis(100)));
        until("kv usage scraped", () -> json(get(proxy, "/healthcheck").body()).at("/decode/0/kv_cache_usage_perc").asDouble() == 0.25);
        JsonNode h = json(get(proxy, "/healthcheck").body());
        assertThat(h.get("status").asText()).isEqualTo("ok");
        assertThat(h.get("prefill_instances").asInt()).isEqualTo(1);
        assertThat(h.get("decode_instances").asInt()).isEqualTo(1);
        assertThat(h.get("request_num").asInt()).isZero();
        JsonNode pi = h.at("/prefill/0");
        assertThat(pi.get("instance").asText()).isEqualTo(p.address().toString());
        assertThat(pi.get("healthy").asBoolean()).isTrue();
        assertThat(pi.get("circuit").asText()).isEqualTo("closed");
        assertThat(pi.get("consecutive_failures").asInt()).isZero();
        assertThat(pi.get("active_requests").asInt()).isZero();
        assertThat(pi.get("pending_prompt_tokens").asLong()).isZero();
        assertThat(pi.has("last_error")).isTrue();

        assertThat(get(proxy, "/health").statusCode()).isEqualTo(200);
        HttpResponse<String> models = get(proxy, "/v1/models");
        assertThat(models.statusCode()).isEqualTo(200);
        assertThat(json(models.body()).at("/data/0/owned_by").asText()).isEqualTo("D"); // asked a decoder

        post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        post(proxy, "/v1/completions", "{bad");
        String metrics = get(proxy, "/metrics").body();
        assertThat(metrics).contains("pdserve_proxy_requests_total{outcome=\"success\"} 1.0")
                .contains("pdserve_proxy_requests_total{outcome=\"bad_request\"} 1.0")
                .contains("pdserve_proxy_upstream_latency_seconds_count{role=\"prefill\"} 1")
                .contains("pdserve_proxy_instance_healthy{instance=\"" + d.address() + "\",role=\"decode\"} 1.0")
                .contains("pdserve_proxy_instance_kv_cache_usage{instance=\"" + d.address() + "\",role=\"decode\"} 0.25")
                .contains("pdserve_proxy_instance_circuit_state");
    }

    @Test
    void modelsIs503WithoutAHealthyInstance() throws Exception {
        ProxyServer proxy = proxy(List.of(), List.of());
        HttpResponse<String> r = get(proxy, "/v1/models");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(json(r.body()).at("/error/code").asInt()).isEqualTo(503);
        r = post(proxy, "/v1/completions", "{\"prompt\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(json(r.body()).at("/error/message").asText()).isEqualTo("no healthy decode instance is configured"); // decode is the one role every request needs
    }
}
