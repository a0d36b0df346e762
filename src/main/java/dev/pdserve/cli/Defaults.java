package dev.pdserve.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** Defaults the subcommands share. */
final class Defaults {
    private Defaults() {}

    /** The built-in model: models/deepseek-v3-tiny under $PDSERVE_HOME (set by ./pdserve), else under the current directory. */
    static Path builtInModel() {
        String home = System.getenv("PDSERVE_HOME");
        Path p = Path.of(home != null ? home : ".").resolve("models/deepseek-v3-tiny");
        return Files.isDirectory(p) ? p : Path.of("models/deepseek-v3-tiny");
    }
}
