package dev.pdserve.cluster;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.kv.KvRole;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Turns cluster.json into a {@link ClusterSpec}, checking the same rules as cluster.schema.json plus
 * the ones a schema cannot say (unique ids, no two listeners on one address, both roles present).
 * Every error names the file, the field and, inside {@code instances}, the instance.
 */
final class ClusterSpecReader {
    static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]+");
    static final Pattern CORE_SET = Pattern.compile("\\d+(-\\d+)?(,\\d+(-\\d+)?)*");
    private static final Set<String> TOP_FIELDS = Set.of("schema_version", "version", "server_count", "status",
            "prefill_device_list", "decode_device_list", "model", "cluster_token_file", "proxy", "instances");
    private static final Set<String> INSTANCE_FIELDS = Set.of("id", "role", "host", "http_port", "kv_ip", "kv_port",
            "engine_id", "core_set", "threads", "cluster_id");
    private static final Set<String> PROXY_FIELDS = Set.of("host", "port");
    private static final Pattern DIGITS = Pattern.compile("[0-9]+");

    private final String source;

    private ClusterSpecReader(String source) {
        this.source = source;
    }

    static ClusterSpec read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ClusterSpecException(file + ": no such file (write one with `pdserve ranktable ... -o " + file + "`)");
        } catch (IOException e) {
            throw new ClusterSpecException(file + ": cannot read: " + e.getMessage(), e);
        }
        return parse(text, file.toString());
    }

    static ClusterSpec parse(String text, String source) {
        ObjectMapper mapper = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        JsonNode root;
        try {
            root = mapper.readTree(text);
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            String where = loc == null ? "" : " at line " + loc.getLineNr() + " column " + loc.getColumnNr();
            throw new ClusterSpecException(source + ": not valid JSON" + where + ": " + e.getOriginalMessage(), e);
        }
        return new ClusterSpecReader(source).spec(root);
    }

    private ClusterSpec spec(JsonNode root) {
        if (root == null || !root.isObject()) throw error("", "the file must hold one JSON object");
        onlyKnownFields(root, TOP_FIELDS, "");
        int version = intField(root, "schema_version", "", 1, Integer.MAX_VALUE);
        if (version != ClusterSpec.SCHEMA_VERSION) {
            throw error("", "schema_version " + version + " is not supported: this pdserve reads schema_version "
                    + ClusterSpec.SCHEMA_VERSION + " (regenerate the file with this build's `pdserve ranktable`)");
        }
        optionalText(root, "version", "");
        optionalText(root, "status", "");
        optionalText(root, "server_count", "").ifPresent(c -> digits(c, "server_count", ""));
        for (String list : List.of("prefill_device_list", "decode_device_list")) deviceList(root, list);
        Optional<String> model = optionalText(root, "model", "");
        Optional<String> tokenFile = optionalText(root, "cluster_token_file", "");
        ClusterSpec.Proxy proxy = proxy(root);
        List<ClusterSpec.Instance> instances = instances(root);
        checkAddressesDistinct(instances, proxy);
        return new ClusterSpec(version, model, tokenFile, proxy, instances);
    }

    private ClusterSpec.Proxy proxy(JsonNode root) {
        JsonNode p = root.get("proxy");
        if (p == null) throw error("", "missing field \"proxy\" (an object with \"host\" and \"port\")");
        if (!p.isObject()) throw error("", "field \"proxy\" must be an object with \"host\" and \"port\"");
        onlyKnownFields(p, PROXY_FIELDS, "proxy: ");
        return new ClusterSpec.Proxy(host(p, "host", "proxy: "), port(p, "port", "proxy: "));
    }

    private List<ClusterSpec.Instance> instances(JsonNode root) {
        JsonNode arr = root.get("instances");
        if (arr == null) throw error("", "missing field \"instances\" (a list of prefill and decode instances)");
        if (!arr.isArray() || arr.isEmpty()) throw error("", "field \"instances\" must be a non-empty list");
        List<ClusterSpec.Instance> out = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < arr.size(); i++) {
            JsonNode n = arr.get(i);
            if (!n.isObject()) throw error("", "instances[" + i + "] must be an object");
            String where = "instances[" + i + "]" + (n.path("id").isTextual() ? " (id \"" + n.get("id").asText() + "\")" : "") + ": ";
            onlyKnownFields(n, INSTANCE_FIELDS, where);
            String id = text(n, "id", where);
            if (!ID.matcher(id).matches()) throw error(where, "field \"id\" may hold only letters, digits, '.', '_' and '-'");
            if (!ids.add(id)) throw error(where, "duplicate id \"" + id + "\": every instance needs its own id");
            KvRole role;
            try {
                role = KvRole.fromWire(text(n, "role", where), KvRole.CLUSTER_ROLES);
            } catch (IllegalArgumentException e) {
                throw error(where, "field \"role\": " + e.getMessage());
            }
            String host = host(n, "host", where);
            int httpPort = port(n, "http_port", where);
            String kvIp = n.has("kv_ip") ? host(n, "kv_ip", where) : host;
            int kvPort = port(n, "kv_port", where);
            String engineId = optionalText(n, "engine_id", where).orElse(id);
            Optional<String> coreSet = optionalText(n, "core_set", where);
            coreSet.ifPresent(c -> coreSet(c, where));
            OptionalInt threads = n.has("threads") ? OptionalInt.of(intField(n, "threads", where, 1, 4096)) : OptionalInt.empty();
            Optional<String> clusterId = optionalText(n, "cluster_id", where);
            out.add(new ClusterSpec.Instance(id, role, host, httpPort, kvIp, kvPort, engineId, coreSet, threads, clusterId));
        }
        for (KvRole r : KvRole.CLUSTER_ROLES) {
            if (out.stream().noneMatch(in -> in.role() == r)) {
                throw error("", "no " + r.wire() + " instance: a PD cluster needs at least one prefill (kv_producer) "
                        + "and one decode (kv_consumer) instance");
            }
        }
        return out;
    }

    /** Two listeners on one host:port would make the second process fail at start; say so now. */
    private void checkAddressesDistinct(List<ClusterSpec.Instance> instances, ClusterSpec.Proxy proxy) {
        Map<String, String> owner = new HashMap<>();
        claim(owner, ClusterSpec.hostPort(proxy.host(), proxy.port()), "proxy port");
        for (ClusterSpec.Instance in : instances) {
            claim(owner, in.httpAddress(), "instance \"" + in.id() + "\" http_port");
            claim(owner, in.kvAddress(), "instance \"" + in.id() + "\" kv_port");
        }
    }

    private void claim(Map<String, String> owner, String address, String who) {
        String prev = owner.putIfAbsent(address, who);
        if (prev != null) throw error("", address + " is used twice: by the " + prev + " and by the " + who + "; give each its own port");
    }

    private void deviceList(JsonNode root, String field) {
        JsonNode arr = root.get(field);
        if (arr == null) return;
        if (!arr.isArray()) throw error("", "field \"" + field + "\" must be a list");
        for (int i = 0; i < arr.size(); i++) {
            String where = field + "[" + i + "]: ";
            JsonNode d = arr.get(i);
            if (!d.isObject()) throw error("", where + "must be an object");
            host(d, "server_id", where);
            host(d, "device_ip", where);
            digits(text(d, "device_id", where), "device_id", where);
            digits(text(d, "cluster_id", where), "cluster_id", where);
            optionalText(d, "core_set", where).ifPresent(c -> coreSet(c, where));
        }
    }

    private void coreSet(String c, String where) {
        if (!CORE_SET.matcher(c).matches()) throw error(where, "field \"core_set\" must be a cpu list like \"0-3\" or \"0,2,4-7\", got \"" + c + "\"");
    }

    private void digits(String v, String field, String where) {
        if (!DIGITS.matcher(v).matches()) throw error(where, "field \"" + field + "\" must be a number in a string, like \"1\", got \"" + v + "\"");
    }

    private void onlyKnownFields(JsonNode n, Set<String> known, String where) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) {
                throw error(where, "unknown field \"" + f + "\" (known fields: " + String.join(", ", known.stream().sorted().toList()) + ")");
            }
        }
    }

    private String text(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null) throw error(where, "missing field \"" + field + "\"");
        if (!v.isTextual() || v.asText().isBlank()) throw error(where, "field \"" + field + "\" must be a non-empty string, got " + v);
        return v.asText();
    }

    private Optional<String> optionalText(JsonNode n, String field, String where) {
        return n.has(field) ? Optional.of(text(n, field, where)) : Optional.empty();
    }

    private String host(JsonNode n, String field, String where) {
        String h = text(n, field, where);
        if (h.chars().anyMatch(Character::isWhitespace)) throw error(where, "field \"" + field + "\" must be a host name or IP address, got \"" + h + "\"");
        return h;
    }

    private int port(JsonNode n, String field, String where) {
        return intField(n, field, where, 1, 65535);
    }

    private int intField(JsonNode n, String field, String where, int min, int max) {
        JsonNode v = n.get(field);
        if (v == null) throw error(where, "missing field \"" + field + "\"");
        String range = max == Integer.MAX_VALUE ? ">= " + min : min + ".." + max;
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < min || v.intValue() > max) {
            throw error(where, "field \"" + field + "\" must be an integer " + range + ", got " + v);
        }
        return v.intValue();
    }

    private ClusterSpecException error(String where, String message) {
        return new ClusterSpecException(source + ": " + where + message);
    }
}
