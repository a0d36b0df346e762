package dev.pdserve.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.cluster.ClusterSpec;
import dev.pdserve.cluster.Ranktable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code pdserve ranktable}: writes cluster.json, the counterpart of vllm-ascend's gen_ranktable. */
@Command(name = "ranktable", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Write cluster.json: the rank table (prefill devices first, then decode) and the instances, "
                + "ports and proxy of a PD cluster. On a CPU a device is a set of cores on a node.",
                "Example: pdserve ranktable --ips 10.0.0.1 10.0.0.2 --npus-per-node 1 --prefill-device-cnt 1 --decode-device-cnt 1 -o cluster.json"})
final class RanktableCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--ips", arity = "1..*", required = true, paramLabel = "IP", description = "Every node's address, in order.")
    List<String> ips;
    @Option(names = "--npus-per-node", defaultValue = "1", description = "Instances (devices) per node; the node's cores are split among them. Default: ${DEFAULT-VALUE}.")
    int npusPerNode;
    @Option(names = "--prefill-device-cnt", required = true, description = "How many prefill (kv_producer) instances.")
    int prefillDeviceCnt;
    @Option(names = "--decode-device-cnt", required = true, description = "How many decode (kv_consumer) instances.")
    int decodeDeviceCnt;
    @Option(names = "--network-card-name", paramLabel = "IF", description = "This node's devices advertise the address of this card as device_ip/kv_ip.")
    String networkCardName;
    @Option(names = "--local-device-ids", split = ",", paramLabel = "ID", description = "Use only these devices on this node, e.g. 0,1.")
    List<Integer> localDeviceIds;
    @Option(names = "--model", paramLabel = "DIR", description = "Model directory every instance serves (recorded in the file).")
    String model;
    @Option(names = "--http-port-base", defaultValue = "8100", description = "Device i on a node serves HTTP on this + i. Default: ${DEFAULT-VALUE}.")
    int httpPortBase;
    @Option(names = "--kv-port-base", defaultValue = "20001", description = "Device i on a node serves KV transfer on this + i. Default: ${DEFAULT-VALUE}.")
    int kvPortBase;
    @Option(names = "--cores-per-node", split = ",", paramLabel = "N", description = "Cores of each node (one count for all, or one per --ips entry). Default: this node's count.")
    List<Integer> coresPerNode;
    @Option(names = "--proxy-host", description = "Where the proxy runs. Default: the first decode node.")
    String proxyHost;
    @Option(names = "--proxy-port", defaultValue = "8000", description = "Default: ${DEFAULT-VALUE}.")
    int proxyPort;
    @Option(names = "--cluster-token-file", paramLabel = "PATH", description = "Shared secret file for KV transfer (same path on every node).")
    String clusterTokenFile;
    @Option(names = {"-o", "--output"}, defaultValue = "cluster.json", paramLabel = "FILE", description = "Where to write; - for stdout. Default: ${DEFAULT-VALUE}.")
    String output;

    @Override
    public Integer call() throws Exception {
        List<Integer> cores = coresPerNode != null ? coresPerNode : List.of(Runtime.getRuntime().availableProcessors());
        ObjectNode table;
        try {
            table = Ranktable.generate(new Ranktable.Request(ips, npusPerNode, prefillDeviceCnt, decodeDeviceCnt,
                    Optional.ofNullable(networkCardName), Optional.ofNullable(localDeviceIds), Optional.ofNullable(model),
                    httpPortBase, kvPortBase, cores, Optional.ofNullable(proxyHost), proxyPort, Optional.ofNullable(clusterTokenFile)));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        String text = new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(table) + "\n";
        ClusterSpec loaded = ClusterSpec.parse(text, output); // what we write must load; fail here, not on the nodes
        if (output.equals("-")) {
            spec.commandLine().getOut().print(text);
            spec.commandLine().getOut().flush();
        } else {
            Files.writeString(Path.of(output), text);
        }
        spec.commandLine().getErr().printf("ranktable: %s: %d prefill + %d decode instance(s) on %d node(s), proxy at %s:%d%n",
                output.equals("-") ? "stdout" : output, loaded.prefillers().size(), loaded.decoders().size(), ips.size(),
                loaded.proxy().host(), loaded.proxy().port());
        return 0;
    }
}
