package dev.pdserve.cli;

import dev.pdserve.cluster.ClusterSpec;
import dev.pdserve.cluster.Doctor;
import dev.pdserve.cluster.DoctorReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code pdserve doctor --cluster cluster.json}: checks every instance from this node; exit 1 when any check fails. */
@Command(name = "doctor", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Check a PD cluster from this node: HTTP and KV ports reachable, round-trip time, "
                + "version and model agreement, addresses, KV handshake (cluster token, block size, model fingerprint). Prints the fix for every FAIL; exits 1 if any check fails."})
final class DoctorCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--cluster", required = true, paramLabel = "FILE", description = "The cluster.json written by `pdserve ranktable`.")
    Path cluster;
    @Option(names = "--timeout-ms", defaultValue = "2000", description = "Per connection and per request. Default: ${DEFAULT-VALUE}.")
    int timeoutMs;
    @Option(names = "--api-key", description = "Bearer key for /v1/models when the instances run with --api-key.")
    String apiKey;
    @Option(names = "--cluster-token-file", paramLabel = "PATH",
            description = "The cluster token to prove in the KV handshake, when this node keeps it elsewhere than the cluster file's cluster_token_file.")
    Path clusterTokenFile;
    @Option(names = "--json", description = "Print the checks as JSON.")
    boolean json;

    @Override
    public Integer call() {
        if (timeoutMs < 1) throw new ParameterException(spec.commandLine(), "--timeout-ms must be >= 1, got " + timeoutMs);
        ClusterSpec clusterSpec = ClusterSpec.load(cluster);
        if (clusterTokenFile != null) {
            clusterSpec = new ClusterSpec(clusterSpec.schemaVersion(), clusterSpec.model(), Optional.of(clusterTokenFile.toString()),
                    clusterSpec.proxy(), clusterSpec.instances());
        }
        DoctorReport report;
        try (Doctor doctor = new Doctor(Duration.ofMillis(timeoutMs), Optional.ofNullable(apiKey))) {
            report = doctor.run(clusterSpec);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(json ? report.json() : report.table());
        out.flush();
        return report.exitCode();
    }
}
