package dev.pdserve.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.EngineException;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.InferenceEngine;
import dev.pdserve.http.ApiException;
import dev.pdserve.http.HttpEdge;
import dev.pdserve.http.Routes;
import dev.pdserve.http.TcpPeer;
import dev.pdserve.structured.CompiledConstraint;
import dev.pdserve.structured.StructuredOutputs;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The OpenAI-compatible HTTP API over an {@link InferenceEngine}, as vLLM serves it:
 * completions and chat (plain and SSE), models, health, version, metrics, tokenize and
 * detokenize. Helidon runs every request on its own virtual thread.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(OpenAiServer.class.getName());
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** How to listen and what to call the model; {@code apiKey} null leaves /v1 open. */
    public record Options(String host, int port, String servedModelName, String apiKey, long maxBodyBytes, String version,
                          ChatTemplating chatTemplating) {
        public Options(String host, int port, String servedModelName, String apiKey, long maxBodyBytes, String version) {
            this(host, port, servedModelName, apiKey, maxBodyBytes, version, ChatTemplating.DEFAULT);
        }

        public static Options loopback(String servedModelName) {
            return new Options("127.0.0.1", 0, servedModelName, null, HttpEdge.MAX_BODY_BYTES, "dev", ChatTemplating.DEFAULT);
        }

        public Options withChatTemplating(ChatTemplating templating) {
            return new Options(host, port, servedModelName, apiKey, maxBodyBytes, version, templating);
        }
    }

    /**
     * What a model can do beyond plain text: constrained output ({@code structuredOutputs}, built on
     * first use; null for none) and tool calling (vLLM's {@code --enable-auto-tool-choice} and
     * {@code --tool-call-parser}, null for none).
     */
    public record Features(Supplier<StructuredOutputs> structuredOutputs, boolean enableAutoToolChoice, String toolCallParser) {
        public static final Features NONE = new Features(null, false, null);
    }

    /** A handler that may throw {@link ApiException}; {@code requestId} is X-Request-Id or a fresh one. */
    private interface Endpoint {
        void handle(ServerRequest req, ServerResponse res, String requestId) throws Exception;
    }

    private final InferenceEngine engine;
    private final TokenizerGuard codec;
    private final Options options;
    private final RequestParser parser;
    private final RequestConstraints constraints;
    private final VllmMetrics metrics;
    private final int maxModelLen;
    private final long createdAt = System.currentTimeMillis() / 1000;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final KvEventStream kvEvents;
    private volatile boolean draining;
    private HttpEdge.Connections connections;
    private WebServer server;

    public OpenAiServer(InferenceEngine engine, TextCodec codec, Options options) { this(engine, codec, options, Features.NONE); }

    public OpenAiServer(InferenceEngine engine, TextCodec codec, Options options, Features features) {
        this.engine = engine;
        this.options = options;
        this.maxModelLen = engine.config().maxModelLen();
        this.codec = new TokenizerGuard(codec, maxModelLen);
        this.parser = new RequestParser(options.servedModelName(), this.codec, options.chatTemplating(),
                new ToolRequest.Support(features.enableAutoToolChoice(), features.toolCallParser()));
        this.constraints = new RequestConstraints(features.structuredOutputs());
        this.metrics = new VllmMetrics(options.servedModelName(), maxModelLen, engine::stats, engine::kvStats).withSpecDecode(engine::specStats);
        engine.onIteration(metrics::recordIteration);
        this.kvEvents = new KvEventStream(engine.kvEvents());
    }

    /** The connection cap and idle timeout (before {@link #start()}; {@link HttpEdge.Connections#defaults()} otherwise). */
    public OpenAiServer connections(HttpEdge.Connections c) {
        connections = c;
        return this;
    }

    public OpenAiServer start() {
        var b = WebServer.builder()
                .host(options.host())
                .port(options.port())
                .shutdownHook(false) // the serve command drains first, then stops the server
                .routing(this::routes);
        server = HttpEdge.listener(b, connections != null ? connections : HttpEdge.Connections.defaults(), "serve")
                .build()
                .start();
        return this;
    }

    public int port() { return server.port(); }

    public VllmMetrics metrics() { return metrics; }

    private void routes(HttpRouting.Builder routing) {
        new Routes(routing)
                .post("/v1/completions", (req, res) -> guard(req, res, true, (q, s, id) -> generate(q, s, id, ApiRequest.Kind.COMPLETION)))
                .post("/v1/chat/completions", (req, res) -> guard(req, res, true, (q, s, id) -> generate(q, s, id, ApiRequest.Kind.CHAT)))
                .get("/v1/models", (req, res) -> guard(req, res, true, (q, s, id) -> HttpEdge.sendJson(s, 200, models())))
                // Model ids may hold slashes (org/name): everything after /v1/models/ is the id.
                .get("/v1/models/*", (req, res) -> guard(req, res, true,
                        (q, s, id) -> HttpEdge.sendJson(s, 200, model(q.path().path().substring("/v1/models/".length())))))
                .get("/health", (req, res) -> res.status(draining ? 503 : 200).send())
                .get("/version", (req, res) -> HttpEdge.sendJson(res, 200, F.objectNode().put("version", options.version())))
                .get("/metrics", (req, res) -> HttpEdge.sendMetrics(res, metrics.scrape()))
                .get("/kv_events", (req, res) -> {
                    try {
                        kvEvents.serve(res);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                })
                .post("/tokenize", (req, res) -> guard(req, res, false, this::tokenize))
                .post("/detokenize", (req, res) -> guard(req, res, false, this::detokenize))
                .finish();
    }

    /** Request id, auth, draining and the error shape, around every API endpoint. */
    private void guard(ServerRequest req, ServerResponse res, boolean v1, Endpoint endpoint) {
        String requestId = HttpEdge.requestId(req, res);
        inFlight.incrementAndGet();
        try {
            if (v1 && options.apiKey() != null) checkApiKey(req);
            if (draining) throw new ApiException(503, null, "The server is shutting down and takes no new requests");
            endpoint.handle(req, res, requestId);
        } catch (ApiException e) {
            HttpEdge.sendError(res, e);
        } catch (EngineException e) {
            HttpEdge.sendError(res, new ApiException(e.status, e.param, e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "request " + requestId + " failed", e);
            HttpEdge.sendError(res, new ApiException(500, null, "internal error: " + e));
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private void checkApiKey(ServerRequest req) {
        String auth = req.headers().first(HeaderNames.AUTHORIZATION).orElse("");
        byte[] given = auth.getBytes(StandardCharsets.UTF_8);
        byte[] expected = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(given, expected)) throw new ApiException(401, null, "Unauthorized: missing or wrong API key");
    }

    private void generate(ServerRequest req, ServerResponse res, String requestId, ApiRequest.Kind kind) throws InterruptedException {
        ObjectNode body = HttpEdge.jsonObject(HttpEdge.body(req, res, options.maxBodyBytes()));
        ApiRequest request = kind == ApiRequest.Kind.CHAT ? parser.parseChat(body) : parser.parseCompletion(body);
        CompiledConstraint constraint = constraints.of(body, request.tools());
        if (constraint != null) request = request.withSampling(request.sampling().toBuilder().structured(constraint).build());
        String prefix = kind == ApiRequest.Kind.CHAT ? "chatcmpl-" : "cmpl-";
        ResponseFormat format = new ResponseFormat(request, prefix + requestId, options.servedModelName(), codec);
        GenerationCall call = new GenerationCall(engine, request, metrics, format, codec);
        // Found before the work starts: a connection already reset could not be told from one not found.
        TcpPeer client = request.stream() ? TcpPeer.UNWATCHED : TcpPeer.of(req.localPeer().address(), req.remotePeer().address());
        // Engine ids are unique even when clients reuse an X-Request-Id.
        call.submit(prefix + requestId + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()), maxModelLen);
        if (request.stream()) call.respondStream(res); else call.respondWhole(res, client);
    }

    private ObjectNode models() {
        ObjectNode root = F.objectNode().put("object", "list");
        root.putArray("data").add(modelCard());
        return root;
    }

    /** OpenAI's retrieve-model: the served model's card, 404 for any other id. */
    private ObjectNode model(String id) {
        if (!options.servedModelName().equals(id)) {
            throw new ApiException(404, "model", "The model `" + id + "` does not exist. This server serves `" + options.servedModelName() + "`.");
        }
        return modelCard();
    }

    private ObjectNode modelCard() {
        ObjectNode m = F.objectNode();
        m.put("id", options.servedModelName());
        m.put("object", "model");
        m.put("created", createdAt);
        m.put("owned_by", "pdserve");
        m.put("root", options.servedModelName());
        m.putNull("parent");
        m.put("max_model_len", maxModelLen);
        m.put("kv_role", engine.kvRole()); // pdserve's: the PD proxy checks it against the role an instance is registered for
        return m;
    }

    /** vLLM's /tokenize: a prompt, or chat messages through the template. */
    private void tokenize(ServerRequest req, ServerResponse res, String requestId) {
        JsonFields f = new JsonFields(HttpEdge.jsonObject(HttpEdge.body(req, res, options.maxBodyBytes())));
        String model = f.string("model", null);
        if (model != null && !model.equals(options.servedModelName())) {
            throw new ApiException(404, "model", "The model `" + model + "` does not exist. This server serves `" + options.servedModelName() + "`.");
        }
        int[] ids;
        if (f.has("messages")) {
            ids = codec.encode(parser.chatText(f), f.bool("add_special_tokens", false));
        } else {
            String prompt = f.string("prompt", null);
            if (prompt == null) throw ApiException.badRequest("prompt", "'prompt' or 'messages' is required");
            ids = codec.encode(prompt, f.bool("add_special_tokens", true));
        }
        ObjectNode out = F.objectNode();
        out.put("count", ids.length);
        out.put("max_model_len", maxModelLen);
        ArrayNode tokens = out.putArray("tokens");
        for (int id : ids) tokens.add(id);
        if (f.bool("return_token_strs", false)) {
            ArrayNode strs = out.putArray("token_strs");
            for (int id : ids) strs.add(codec.tokenText(id));
        } else {
            out.putNull("token_strs");
        }
        HttpEdge.sendJson(res, 200, out);
    }

    private void detokenize(ServerRequest req, ServerResponse res, String requestId) {
        JsonFields f = new JsonFields(HttpEdge.jsonObject(HttpEdge.body(req, res, options.maxBodyBytes())));
        if (!f.has("tokens")) throw ApiException.badRequest("tokens", "'tokens' is required");
        int[] ids = f.ints("tokens");
        for (int id : ids) GenerationRequest.checkTokenId("tokens", id, codec.vocabSize());
        HttpEdge.sendJson(res, 200, F.objectNode().put("prompt", codec.decode(ids, false)));
    }

    /**
     * Stops taking requests (503 from now on), lets the engine finish what runs, waits for the
     * last responses to be written, within {@code timeout}.
     */
    public void drain(Duration timeout) {
        draining = true;
        engine.drain();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    public boolean isDraining() { return draining; }

    @Override
    public void close() {
        kvEvents.close();
        if (server != null) server.stop();
        codec.close();
    }
}
