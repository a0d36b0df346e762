package dev.pdserve.cli;

import dev.pdserve.launch.Demo;
import dev.pdserve.launch.LaunchException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code pdserve demo}: prefill + decode + proxy on loopback, one answer, a short benchmark, all stopped. */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Start prefill, decode and proxy on 127.0.0.1 with the built-in model, send one request, "
                + "run a short `bench serve` through the proxy, then stop every process.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", description = "Model folder (default: the built-in models/deepseek-v3-tiny).")
    Path model;
    @Option(names = "--log-dir", paramLabel = "DIR", description = "Where the processes' logs go (default: a new folder under the temp dir).")
    Path logDir;
    @Option(names = "--timeout", defaultValue = "600", paramLabel = "SECONDS", description = "Stop everything and fail after this long (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() throws IOException {
        Path modelDir = model != null ? model : Defaults.builtInModel();
        if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
            System.err.println("demo failed: no model in " + modelDir.toAbsolutePath()
                    + " (run ./pdserve demo from the repository, or pass --model DIR)");
            return 1;
        }
        Path logs = logDir != null ? logDir : Files.createTempDirectory("pdserve-demo-");
        try {
            Demo.run(modelDir.toAbsolutePath().normalize(), logs.toAbsolutePath(), Duration.ofSeconds(timeoutSeconds), System.out);
            System.out.println("demo OK: logs in " + logs.toAbsolutePath());
            return 0;
        } catch (LaunchException | IllegalArgumentException | IllegalStateException e) {
            System.out.flush();
            System.err.println("demo failed: " + e.getMessage());
            return 1;
        }
    }
}
