package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.ApiException;
import dev.pdserve.http.HttpEdge;
import dev.pdserve.http.Routes;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * The PD proxy's HTTP server (Helidon SE, a virtual thread per request). Endpoints:
 * {@code POST /v1/completions}, {@code POST /v1/chat/completions}, {@code GET /v1/models},
 * {@code GET /health}, {@code GET /healthcheck}, {@code GET /metrics},
 * {@code POST /instances/add}, {@code POST /instances/remove}.
 */
public final class ProxyServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("dev.pdserve.proxy");

    private final ProxyConfig config;
    private final ObjectMapper json = ProxyJson.MAPPER;
    private final Loops loops = new Loops();
    private final InstancePool pool;
    private final ProxyMetrics metrics = new ProxyMetrics();
    private final Upstream upstream;
    private final HealthMonitor health;
    private final PrefixIndex prefixIndex = new PrefixIndex();
    private final KvEventSubscriber kvEvents;
    private final PdHandler pd;
    private final AdminApi admin;
    private final WebServer server;
    /** Requests inside an API handler, counted before the draining check so drain() waits for every one let in. */
    private final AtomicInteger active = new AtomicInteger();
    private volatile boolean draining;

    private ProxyServer(ProxyConfig config) {
        this.config = config;
        pool = new InstancePool(config.breakerFailures, config.breakerCooldown.toNanos(), config.nanoClock);
        for (InstanceAddress a : config.prefillers) register(InstanceType.PREFILL, a);
        for (InstanceAddress a : config.decoders) register(InstanceType.DECODE, a);
        upstream = new Upstream(config.connectTimeout);
        health = new HealthMonitor(pool, upstream, config, loops);
        kvEvents = new KvEventSubscriber(pool, prefixIndex, upstream, config, loops);
        Router router = new Router(config.routing, config.prefillThreshold, pool, prefixIndex, new PromptTokenizer(pool, upstream, json));
        pd = new PdHandler(config, pool, upstream, metrics, json, loops, router);
        if (config.port != 0) {
            for (InstanceAddress a : config.prefillers) refuseSelf(a, config.port);
            for (InstanceAddress a : config.decoders) refuseSelf(a, config.port);
        }
        admin = new AdminApi(config, pool, health, metrics, json, this::port);
        server = HttpEdge.listener(WebServer.builder().host(config.host).port(config.port)
                        .shutdownHook(false) // the proxy command drains first, then stops the server
                        .routing(this::routes), config.connections, "proxy").build().start();
        LOG.info("pdserve proxy on http://" + config.host + ":" + server.port()
                + " prefill=" + config.prefillers + " decode=" + config.decoders + " routing=" + config.routing.label()
                + (config.routing == Router.Policy.KV_AWARE ? " prefill-threshold=" + config.prefillThreshold : ""));
    }

    private void refuseSelf(InstanceAddress a, int port) {
        if (Loops.isOwnAddress(a, config.host, port)) {
            throw new IllegalArgumentException("instance " + a + " is this proxy's own address (" + config.host + ":" + port + "): requests would loop");
        }
    }

    public static ProxyServer start(ProxyConfig config) {
        return new ProxyServer(config);
    }

    private void register(InstanceType type, InstanceAddress a) {
        Instance i = pool.add(type, a, true); // trusted until the first probe says otherwise
        if (i != null) metrics.instanceAdded(i);
    }

    public int port() {
        return server.port();
    }

    private void routes(HttpRouting.Builder r) {
        new Routes(r).post("/v1/completions", unlessDraining((req, res) -> pd.handle(req, res, "/v1/completions")))
                .post("/v1/chat/completions", unlessDraining((req, res) -> pd.handle(req, res, "/v1/chat/completions")))
                .get("/v1/models", this::models)
                .get("/health", (req, res) -> {
                    res.header(HeaderNames.create(Loops.PROXY_ID), loops.id); // health probes of a proxy registered in itself see it
                    res.status(draining ? 503 : 200).send();
                })
                .get("/healthcheck", json(req -> healthcheck()))
                .get("/metrics", (req, res) -> HttpEdge.sendMetrics(res, metrics.scrape()))
                .post("/instances/add", json(admin::add))
                .post("/instances/remove", json(admin::remove))
                .finish();
    }

    /** While draining, a new request gets 503 and an OpenAI-shaped body (not a refused connection). */
    private Handler unlessDraining(Handler h) {
        return (req, res) -> {
            active.incrementAndGet();
            try {
                if (draining) HttpEdge.sendError(res, ApiException.unavailable("The proxy is shutting down and takes no new requests"));
                else h.handle(req, res);
            } finally {
                active.decrementAndGet();
            }
        };
    }

    /** SIGTERM: new requests get 503 from now on; returns when the running ones have ended, or after {@code timeout}. */
    public void drain(Duration timeout) {
        draining = true;
        long deadline = System.nanoTime() + timeout.toNanos();
        while (active.get() > 0 && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private interface JsonEndpoint {
        ObjectNode answer(ServerRequest req);
    }

    /** A JSON endpoint; an {@link ApiException} becomes its status and OpenAI-shaped body. */
    private Handler json(JsonEndpoint e) {
        return (req, res) -> {
            ObjectNode answer;
            try {
                answer = e.answer(req);
            } catch (ApiException err) {
                HttpEdge.sendError(res, err);
                return;
            }
            HttpEdge.sendJson(res, 200, answer);
        };
    }

    /**
     * Instance states and loads. {@code status}, {@code prefill_instances}, {@code decode_instances} and
     * {@code request_num} are what vllm-ascend's proxy reports; {@code prefill} and {@code decode} list each instance.
     */
    ObjectNode healthcheck() {
        ObjectNode o = json.createObjectNode();
        // Without prefill instances the proxy balances whole requests over the decode instances: those are all it needs.
        boolean prefillOk = pool.list(InstanceType.PREFILL).isEmpty() || pool.anyAvailable(InstanceType.PREFILL);
        o.put("status", prefillOk && pool.anyAvailable(InstanceType.DECODE) ? "ok" : "degraded");
        o.put("prefill_instances", pool.list(InstanceType.PREFILL).size());
        o.put("decode_instances", pool.list(InstanceType.DECODE).size());
        o.put("request_num", pd.inFlight.get());
        for (InstanceType type : InstanceType.values()) {
            ArrayNode a = o.putArray(type.label());
            for (Instance i : pool.list(type)) {
                ObjectNode n = a.addObject();
                n.put("instance", i.address.toString());
                n.put("healthy", i.healthy);
                n.put("circuit", i.breaker.state().name().toLowerCase(java.util.Locale.ROOT));
                n.put("consecutive_failures", i.breaker.consecutiveFailures());
                n.put("active_requests", i.activeRequests.get());
                n.put("pending_prompt_tokens", i.pendingPromptTokens.get());
                n.put("kv_cache_usage_perc", i.kvCacheUsage);
                n.put("last_error", i.lastError);
                n.put("kv_events_epoch", prefixIndex.epoch(i));
                n.put("prefix_cache_blocks", prefixIndex.size(i));
            }
        }
        return o;
    }

    /** {@code GET /v1/models} from the first healthy decode instance that answers (then prefill ones). */
    private void models(ServerRequest req, ServerResponse res) {
        List<Instance> candidates = new ArrayList<>();
        for (InstanceType type : List.of(InstanceType.DECODE, InstanceType.PREFILL))
            for (Instance i : pool.list(type)) if (i.isAvailable()) candidates.add(i);
        String auth = req.headers().first(HeaderNames.AUTHORIZATION)
                .orElse(config.upstreamApiKey == null ? null : "Bearer " + config.upstreamApiKey);
        List<String> failures = new ArrayList<>();
        for (Instance i : candidates) {
            try {
                HttpResponse<byte[]> r = upstream.get(i.address, "/v1/models", new Upstream.Forward(null, auth, loops.id), Duration.ofSeconds(5));
                if (r.statusCode() < 500) {
                    res.status(r.statusCode());
                    res.header(HeaderNames.CONTENT_TYPE, r.headers().firstValue("Content-Type").orElse("application/json"));
                    res.send(r.body());
                    return;
                }
                failures.add(i.address + " answered HTTP " + r.statusCode());
            } catch (IOException e) {
                failures.add(i.address + ": " + PdHandler.describe(e));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        HttpEdge.sendError(res, ApiException.unavailable(candidates.isEmpty() ? "no healthy instance to ask for /v1/models"
                : "no instance answered /v1/models: " + failures));
    }

    /** Blocks until the server stops (the CLI's foreground mode). */
    public void awaitTermination() throws InterruptedException {
        while (server.isRunning()) Thread.sleep(500);
    }

    @Override
    public void close() {
        server.stop();
        kvEvents.close();
        health.close();
        upstream.close();
    }
}
