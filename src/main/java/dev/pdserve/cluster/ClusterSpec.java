package dev.pdserve.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.kv.KvRole;
import dev.pdserve.kv.KvTransferConfig;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A loaded cluster.json: which instances exist, where they listen and what they do.
 * {@code serve --cluster F --instance ID} takes its role, ports and kv-transfer-config from here,
 * {@code proxy --cluster F} its prefiller and decoder lists, {@code doctor} what to probe.
 * The file format is described in docs/cluster.md and src/main/resources/cluster.schema.json.
 */
public record ClusterSpec(int schemaVersion, Optional<String> model, Optional<String> clusterTokenFile,
                          Proxy proxy, List<Instance> instances) {

    /** The schema_version this build writes and reads. */
    public static final int SCHEMA_VERSION = 1;

    /** One serving process. {@code coreSet} is a Linux cpu list ("0-3,8"), for taskset and the thread pool. */
    public record Instance(String id, KvRole role, String host, int httpPort, String kvIp, int kvPort,
                           String engineId, Optional<String> coreSet, OptionalInt threads,
                           Optional<String> clusterId) {
        public String httpAddress() {
            return hostPort(host, httpPort);
        }

        public String kvAddress() {
            return hostPort(kvIp, kvPort);
        }
    }

    /** Where the PD proxy listens. */
    public record Proxy(String host, int port) {}

    public ClusterSpec {
        instances = List.copyOf(instances);
    }

    /** Reads and checks a cluster.json; errors name the file, the field and the instance. */
    public static ClusterSpec load(Path file) {
        return ClusterSpecReader.read(file);
    }

    /** Parses cluster.json text; {@code source} names it in error messages. */
    public static ClusterSpec parse(String json, String source) {
        return ClusterSpecReader.parse(json, source);
    }

    public Instance instance(String id) {
        return instances.stream().filter(i -> i.id().equals(id)).findFirst()
                .orElseThrow(() -> new ClusterSpecException("no instance \"" + id + "\" in the cluster file; instances are: "
                        + String.join(", ", instances.stream().map(Instance::id).toList())));
    }

    /** The prefill instances (kv_producer), in file order. */
    public List<Instance> prefillers() {
        return instances.stream().filter(i -> i.role() == KvRole.PRODUCER).toList();
    }

    /** The decode instances (kv_consumer), in file order. */
    public List<Instance> decoders() {
        return instances.stream().filter(i -> i.role() == KvRole.CONSUMER).toList();
    }

    /**
     * vLLM's {@code --kv-transfer-config} for one instance, e.g.
     * {@code {"kv_connector":"PdTcpConnector","kv_role":"kv_producer","kv_ip":"10.0.0.1","kv_port":20001,
     * "engine_id":"prefill-0","kv_connector_extra_config":{"instance_id":"prefill-0"}}}.
     */
    public String kvTransferConfigJson(String instanceId) {
        Instance in = instance(instanceId);
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = json.createObjectNode();
        cfg.put("kv_connector", KvTransferConfig.CONNECTOR);
        cfg.put("kv_role", in.role().wire());
        cfg.put("kv_ip", in.kvIp());
        cfg.put("kv_port", in.kvPort());
        cfg.put("engine_id", in.engineId());
        ObjectNode extra = cfg.putObject("kv_connector_extra_config");
        extra.put("instance_id", in.id());
        clusterTokenFile.ifPresent(f -> extra.put("cluster_token_file", f));
        return cfg.toString();
    }

    static String hostPort(String host, int port) {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
