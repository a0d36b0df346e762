package dev.pdserve.launch;

import dev.pdserve.bench.BenchmarkConfig;
import dev.pdserve.bench.BenchmarkResult;
import dev.pdserve.bench.BenchmarkRunner;
import dev.pdserve.bench.SampleRequest;
import dev.pdserve.cluster.CoreSets;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code pdserve bench compare}: the same requests, replayed against a colocated instance and then against
 * prefill + decode + proxy with the same cores in total, one deployment at a time (so they never compete
 * for the cores), each stopped before the next starts.
 */
public final class Comparison {
    /** One side of the comparison: a label and how to start it. */
    public record Setup(String label, boolean disaggregated, Placement colocated, Placement prefill, Placement decode) {}

    private Comparison() {}

    /**
     * Colocated on cores 0..n-1 with n threads, against prefill on the first half and decode on the second
     * half. {@code pin} false: no taskset, only --threads.
     */
    public static List<Setup> sameCores(int cores, boolean pin) {
        if (cores < 2) throw new IllegalArgumentException("comparing needs at least 2 cores (one for prefill, one for decode), got " + cores);
        String all = "0-" + (cores - 1);
        List<String> halves = CoreSets.split(cores, 2);
        Placement colo = pin ? Placement.pinned(all) : new Placement(null, cores);
        Placement prefill = pin ? Placement.pinned(halves.get(0)) : new Placement(null, CoreSets.count(halves.get(0)));
        Placement decode = pin ? Placement.pinned(halves.get(1)) : new Placement(null, CoreSets.count(halves.get(1)));
        return List.of(new Setup("colocated-" + cores + "c", false, colo, null, null),
                new Setup("pd-" + prefill.threads() + "p" + decode.threads() + "d", true, null, prefill, decode));
    }

    /** Runs {@code requests} against each setup in turn; {@code config}'s base URL and label are replaced per setup. */
    public static List<BenchmarkResult> run(List<Setup> setups, LocalDeployment.Options options, BenchmarkConfig config,
                                            List<SampleRequest> requests, PrintStream out) {
        List<BenchmarkResult> results = new ArrayList<>();
        for (Setup s : setups) {
            out.println();
            out.println("=== " + s.label() + " ===");
            LocalDeployment.Options mine = new LocalDeployment.Options(options.modelDir(), options.servedModelName(),
                    options.logDir().resolve(s.disaggregated() ? "pd" : "colocated"), options.serveArgs(),
                    options.readyTimeout(), options.stopGrace());
            try (LocalDeployment d = s.disaggregated()
                    ? LocalDeployment.disaggregated(mine, s.prefill(), s.decode(), out)
                    : LocalDeployment.colocated(mine, s.colocated(), out);
                 BenchmarkRunner runner = new BenchmarkRunner(forSetup(config, s.label(), d.baseUrl()), out, System.err)) {
                BenchmarkResult r = runner.run(requests);
                results.add(r);
                out.printf("%s: %d ok, %d failed in %.1f s%n", s.label(), r.metrics().completed(), r.metrics().failed(), r.durationS());
            }
        }
        return results;
    }

    static BenchmarkConfig forSetup(BenchmarkConfig c, String label, String baseUrl) {
        return new BenchmarkConfig(label, c.backend(), baseUrl, c.endpoint(), c.model(), c.tokenizerId(), c.requestRate(),
                c.burstiness(), c.maxConcurrency(), c.ignoreEos(), c.numWarmups(), c.seed(), c.percentileMetrics(),
                c.percentiles(), c.goodput(), c.headers(), c.extraBody(), c.requestIdPrefix(), c.showProgress());
    }
}
