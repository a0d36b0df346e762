package dev.pdserve.launch;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;

/**
 * How to start one child process and tell when it is ready.
 *
 * @param name      short name for messages, e.g. "prefill"
 * @param command   the full command line (see {@link JavaCommand})
 * @param logFile   stdout and stderr both go here
 * @param healthUrl GET this until it answers 200, or null to wait for the ready line only
 */
public record ProcessSpec(String name, List<String> command, Path logFile, URI healthUrl) {
    /** The line uvicorn and {@code pdserve serve} print once they accept requests. */
    public static final String READY_LINE = "Application startup complete.";

    public ProcessSpec {
        if (command.isEmpty()) throw new IllegalArgumentException("empty command for " + name);
        command = List.copyOf(command);
    }
}
