package dev.pdserve.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.kv.KvRole;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;

/**
 * Writes cluster.json, the counterpart of vllm-ascend's gen_ranktable: the same device lists
 * ({@code prefill_device_list} then {@code decode_device_list}, entries with {@code server_id},
 * {@code device_id}, {@code device_ip}, {@code cluster_id}) plus pdserve's {@code instances} and
 * {@code proxy}. On a CPU a "device" is a contiguous set of cores on a node.
 */
public final class Ranktable {
    /** vllm-ascend's rank table version, kept so its tooling reads our device lists. */
    public static final String RANKTABLE_VERSION = "1.2";

    /**
     * What to lay out. {@code coresPerNode} holds one count for every node or one per IP.
     * {@code localDeviceIds}, when present, restricts this node's devices (as gen_ranktable's flag does).
     */
    public record Request(List<String> ips, int npusPerNode, int prefillDeviceCnt, int decodeDeviceCnt,
                          Optional<String> networkCardName, Optional<List<Integer>> localDeviceIds,
                          Optional<String> model, int httpPortBase, int kvPortBase, List<Integer> coresPerNode,
                          Optional<String> proxyHost, int proxyPort, Optional<String> clusterTokenFile) {
        public Request {
            ips = List.copyOf(ips);
            coresPerNode = List.copyOf(coresPerNode);
        }
    }

    private record Device(String serverId, int deviceId, String deviceIp, String clusterId, String coreSet) {}

    private Ranktable() {}

    /** Builds the cluster.json tree; bad requests throw IllegalArgumentException naming the flag to fix. */
    public static ObjectNode generate(Request r) {
        checkShape(r);
        int local = localNodeIndex(r);
        Optional<String> cardIp = r.networkCardName().map(LocalNode::addressOfInterface);
        List<Device> devices = new ArrayList<>();
        for (int node = 0; node < r.ips().size(); node++) {
            String ip = r.ips().get(node);
            int cores = r.coresPerNode().size() == 1 ? r.coresPerNode().getFirst() : r.coresPerNode().get(node);
            List<String> coreSets;
            try {
                coreSets = CoreSets.split(cores, r.npusPerNode());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("node " + ip + " has " + cores + " cores, too few for --npus-per-node "
                        + r.npusPerNode() + " (each instance needs at least one core): lower --npus-per-node or fix --cores-per-node");
            }
            List<Integer> ids = node == local && r.localDeviceIds().isPresent()
                    ? r.localDeviceIds().get() : range(r.npusPerNode());
            String deviceIp = node == local && cardIp.isPresent() ? cardIp.get() : ip;
            for (int id : ids) {
                devices.add(new Device(ip, id, deviceIp, Integer.toString(devices.size() + 1), coreSets.get(id)));
            }
        }
        int wanted = r.prefillDeviceCnt() + r.decodeDeviceCnt();
        if (wanted > devices.size()) {
            throw new IllegalArgumentException("asked for " + r.prefillDeviceCnt() + " prefill + " + r.decodeDeviceCnt()
                    + " decode devices, but " + r.ips().size() + " node(s) x --npus-per-node " + r.npusPerNode()
                    + (r.localDeviceIds().isPresent() ? " (this node limited by --local-device-ids)" : "")
                    + " give only " + devices.size() + ": add nodes to --ips, raise --npus-per-node or ask for fewer devices");
        }
        List<Device> prefill = devices.subList(0, r.prefillDeviceCnt());
        List<Device> decode = devices.subList(r.prefillDeviceCnt(), wanted);

        ObjectNode root = new ObjectMapper().createObjectNode();
        root.put("schema_version", ClusterSpec.SCHEMA_VERSION);
        root.put("version", RANKTABLE_VERSION);
        root.put("server_count", Integer.toString(r.ips().size()));
        root.put("status", "completed");
        writeDevices(root.putArray("prefill_device_list"), prefill);
        writeDevices(root.putArray("decode_device_list"), decode);
        r.model().ifPresent(m -> root.put("model", m));
        r.clusterTokenFile().ifPresent(f -> root.put("cluster_token_file", f));
        String proxyHost = r.proxyHost().orElse(decode.getFirst().serverId());
        ObjectNode proxy = root.putObject("proxy");
        proxy.put("host", proxyHost);
        proxy.put("port", r.proxyPort());
        ArrayNode instances = root.putArray("instances");
        writeInstances(instances, prefill, KvRole.PRODUCER, r, proxyHost);
        writeInstances(instances, decode, KvRole.CONSUMER, r, proxyHost);
        return root;
    }

    private static void writeDevices(ArrayNode out, List<Device> devices) {
        for (Device d : devices) {
            ObjectNode n = out.addObject();
            n.put("server_id", d.serverId());
            n.put("device_id", Integer.toString(d.deviceId()));
            n.put("device_ip", d.deviceIp());
            n.put("cluster_id", d.clusterId());
            n.put("core_set", d.coreSet());
        }
    }

    private static void writeInstances(ArrayNode out, List<Device> devices, KvRole role, Request r, String proxyHost) {
        for (int i = 0; i < devices.size(); i++) {
            Device d = devices.get(i);
            String id = (role == KvRole.PRODUCER ? "prefill" : "decode") + "-" + i;
            // Ports follow the device id, which is unique per node, so instances sharing a node never collide.
            int httpPort = port(r.httpPortBase() + d.deviceId(), "--http-port-base", id);
            int kvPort = port(r.kvPortBase() + d.deviceId(), "--kv-port-base", id);
            if (d.serverId().equals(proxyHost) && (httpPort == r.proxyPort() || kvPort == r.proxyPort())) {
                throw new IllegalArgumentException("--proxy-port " + r.proxyPort() + " on " + proxyHost + " clashes with "
                        + id + "'s " + (httpPort == r.proxyPort() ? "http" : "kv") + " port: pick another --proxy-port");
            }
            ObjectNode n = out.addObject();
            n.put("id", id);
            n.put("role", role.wire());
            n.put("host", d.serverId());
            n.put("http_port", httpPort);
            n.put("kv_ip", d.deviceIp());
            n.put("kv_port", kvPort);
            n.put("engine_id", id);
            n.put("core_set", d.coreSet());
            n.put("threads", CoreSets.count(d.coreSet()));
            n.put("cluster_id", d.clusterId());
        }
    }

    private static int port(int port, String flag, String id) {
        if (port > 65535) throw new IllegalArgumentException(id + " would get port " + port + ", above 65535: lower " + flag);
        return port;
    }

    private static void checkShape(Request r) {
        if (r.ips().isEmpty()) throw new IllegalArgumentException("--ips needs at least one node address");
        if (new HashSet<>(r.ips()).size() != r.ips().size()) throw new IllegalArgumentException("--ips lists a node twice: " + r.ips());
        for (String ip : r.ips()) {
            if (ip.isBlank() || ip.chars().anyMatch(Character::isWhitespace)) throw new IllegalArgumentException("--ips: \"" + ip + "\" is not an address");
        }
        if (r.npusPerNode() < 1) throw new IllegalArgumentException("--npus-per-node must be >= 1, got " + r.npusPerNode());
        if (r.prefillDeviceCnt() < 1) throw new IllegalArgumentException("--prefill-device-cnt must be >= 1, got " + r.prefillDeviceCnt());
        if (r.decodeDeviceCnt() < 1) throw new IllegalArgumentException("--decode-device-cnt must be >= 1, got " + r.decodeDeviceCnt());
        if (r.coresPerNode().size() != 1 && r.coresPerNode().size() != r.ips().size()) {
            throw new IllegalArgumentException("--cores-per-node takes one count for all nodes or one per --ips entry ("
                    + r.ips().size() + "), got " + r.coresPerNode().size());
        }
        for (int p : List.of(r.httpPortBase(), r.kvPortBase(), r.proxyPort())) {
            if (p < 1 || p > 65535) throw new IllegalArgumentException("ports must be 1..65535, got " + p);
        }
        r.localDeviceIds().ifPresent(ids -> {
            if (ids.isEmpty()) throw new IllegalArgumentException("--local-device-ids is empty");
            if (new HashSet<>(ids).size() != ids.size()) throw new IllegalArgumentException("--local-device-ids lists a device twice: " + ids);
            for (int id : ids) {
                if (id < 0 || id >= r.npusPerNode()) {
                    throw new IllegalArgumentException("--local-device-ids: device " + id + " does not exist with --npus-per-node "
                            + r.npusPerNode() + " (devices are 0.." + (r.npusPerNode() - 1) + ")");
                }
            }
        });
    }

    /** Like gen_ranktable.sh: this node is the first of --ips that is one of our addresses; -1 if none. */
    private static int localNodeIndex(Request r) {
        for (int i = 0; i < r.ips().size(); i++) if (LocalNode.isLocal(r.ips().get(i))) return i;
        if (r.networkCardName().isPresent() || r.localDeviceIds().isPresent()) {
            throw new IllegalArgumentException("--network-card-name and --local-device-ids describe this node, but none of --ips "
                    + r.ips() + " is an address of this node: run ranktable on one of them or drop those flags");
        }
        return -1;
    }

    private static List<Integer> range(int n) {
        List<Integer> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(i);
        return out;
    }
}
