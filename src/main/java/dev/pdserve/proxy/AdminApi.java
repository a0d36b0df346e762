package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.ApiException;
import dev.pdserve.http.HttpEdge;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * {@code POST /instances/add} and {@code /instances/remove}, compatible with vllm-ascend's proxy:
 * {@code {"type":"prefill"|"decode","instances":["host:port",...]}} ({@code "instances"} may be one
 * string, and {@code "instance"} is accepted too). Guarded by {@code --admin-api-key}.
 */
final class AdminApi {
    private final ProxyConfig config;
    private final InstancePool pool;
    private final HealthMonitor health;
    private final ProxyMetrics metrics;
    private final ObjectMapper json;
    private final IntSupplier ownPort;

    AdminApi(ProxyConfig config, InstancePool pool, HealthMonitor health, ProxyMetrics metrics, ObjectMapper json, IntSupplier ownPort) {
        this.config = config;
        this.pool = pool;
        this.health = health;
        this.metrics = metrics;
        this.json = json;
        this.ownPort = ownPort;
    }

    /** 403 when the admin API is off (no key configured), 401 when the caller's key is missing or wrong. */
    void authorize(ServerRequest req) {
        if (config.adminApiKey == null)
            throw new ApiException(403, null, "the admin API is disabled: start the proxy with --admin-api-key");
        String given = req.headers().first(HeaderNames.create("X-API-Key"))
                .or(() -> req.headers().first(HeaderNames.AUTHORIZATION)
                        .filter(a -> a.regionMatches(true, 0, "Bearer ", 0, 7)).map(a -> a.substring(7).trim()))
                .orElse("");
        if (!MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), config.adminApiKey.getBytes(StandardCharsets.UTF_8)))
            throw new ApiException(401, null, "missing or wrong admin API key (send X-API-Key or Authorization: Bearer)");
    }

    ObjectNode add(ServerRequest req) {
        authorize(req);
        Change c = parse(req);
        List<String> added = new ArrayList<>();
        List<String> waiting = new ArrayList<>();
        List<String> present = new ArrayList<>();
        boolean probing = !config.healthInterval.isZero();
        for (InstanceAddress a : c.addresses) {
            if (Loops.isOwnAddress(a, config.host, ownPort.getAsInt())) {
                throw ApiException.badRequest(null, "instance " + a + " is this proxy's own address: requests would loop");
            }
        }
        for (InstanceAddress a : c.addresses) {
            // Without health probes the instance is trusted at once; with them it waits for a passing /health.
            Instance i = pool.add(c.type, a, !probing);
            if (i == null) {
                present.add(a.toString());
                continue;
            }
            if (probing) health.probe(i);
            if (i.roleMismatch != null) { // refused now rather than taking requests it can only fail
                pool.remove(c.type, a);
                throw ApiException.badRequest(null, "instance " + a + ": " + i.roleMismatch);
            }
            metrics.instanceAdded(i);
            (i.healthy ? added : waiting).add(a.toString());
        }
        StringBuilder m = new StringBuilder();
        if (!added.isEmpty()) m.append("Added ").append(c.type.label()).append(" instances: ").append(added).append(". ");
        if (!waiting.isEmpty()) m.append("Instances ").append(waiting).append(" are waiting to be added (their /health does not answer 200 yet). ");
        if (!present.isEmpty()) m.append("Instances ").append(present).append(" were already present. ");
        return snapshot(m.toString().trim());
    }

    ObjectNode remove(ServerRequest req) {
        authorize(req);
        Change c = parse(req);
        List<String> removed = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        for (InstanceAddress a : c.addresses) {
            Instance i = pool.remove(c.type, a);
            if (i == null) {
                unknown.add(a.toString());
            } else {
                metrics.instanceRemoved(i);
                removed.add(a.toString());
            }
        }
        if (removed.isEmpty())
            throw new ApiException(404, null, "no " + c.type.label() + " instance " + unknown + " in the proxy");
        String m = "Removed " + c.type.label() + " instances: " + removed + "."
                + (unknown.isEmpty() ? "" : " Not found: " + unknown + ".");
        return snapshot(m);
    }

    private record Change(InstanceType type, List<InstanceAddress> addresses) {}

    private Change parse(ServerRequest req) {
        ObjectNode body = HttpEdge.jsonObject(HttpEdge.body(req, config.maxBodyBytes));
        InstanceType type;
        try {
            type = InstanceType.fromLabel(body.path("type").asText(""));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(null, e.getMessage());
        }
        JsonNode list = body.has("instances") ? body.get("instances") : body.get("instance");
        List<InstanceAddress> addresses = new ArrayList<>();
        try {
            if (list != null && list.isTextual()) addresses.add(InstanceAddress.parse(list.asText()));
            else if (list != null && list.isArray()) for (JsonNode n : list) addresses.add(InstanceAddress.parse(n.asText()));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(null, e.getMessage());
        }
        if (addresses.isEmpty()) throw ApiException.badRequest(null, "give \"instances\": [\"host:port\", ...] (or \"instance\": \"host:port\")");
        return new Change(type, addresses);
    }

    private ObjectNode snapshot(String message) {
        ObjectNode o = json.createObjectNode();
        o.put("message", message);
        for (InstanceType r : InstanceType.values()) {
            ArrayNode a = o.putArray("current_" + r.label() + "_instances");
            for (Instance i : pool.list(r)) a.add(i.address.toString());
        }
        return o;
    }
}
