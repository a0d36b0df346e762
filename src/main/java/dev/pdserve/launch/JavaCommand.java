package dev.pdserve.launch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a child JVM that runs our own code: the running JVM's {@code java}, the flags the
 * {@code ./pdserve} launcher passes, the running classpath (the fat jar, or target/classes and the
 * dependencies under Maven), optionally pinned to cores with {@code taskset -c}.
 */
public final class JavaCommand {
    /** The ./pdserve launcher's flags: the Vector API, native access (tokenizer, mmap), its GC. */
    public static final List<String> JVM_FLAGS = List.of("--add-modules", "jdk.incubator.vector",
            "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC");
    public static final String PDSERVE_MAIN = "dev.pdserve.cli.Main";

    private JavaCommand() {}

    /** {@code [taskset -c CORES] java FLAGS -cp CLASSPATH pdserve-main ARGS}; {@code cores} null: no pinning. */
    public static List<String> pdserve(List<String> args, String cores) {
        return of(PDSERVE_MAIN, args, cores);
    }

    /** Like {@link #pdserve} for any main class on the running classpath (tests start small fakes this way). */
    public static List<String> of(String mainClass, List<String> args, String cores) {
        List<String> cmd = new ArrayList<>();
        if (cores != null) {
            Path taskset = taskset();
            if (taskset == null) throw new LaunchException("cannot pin to cores " + cores + ": no taskset binary on PATH (install util-linux, or run without pinning)");
            cmd.addAll(List.of(taskset.toString(), "-c", cores));
        }
        cmd.add(javaBinary().toString());
        cmd.addAll(JVM_FLAGS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        return cmd;
    }

    /** bin/java of the JVM running this code, so children run on the same JDK 25. */
    public static Path javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    /** The taskset binary on PATH (or in /usr/bin), or null when this system has none (e.g. macOS). */
    public static Path taskset() {
        String path = System.getenv("PATH");
        List<String> dirs = new ArrayList<>(path == null ? List.of() : List.of(path.split(java.io.File.pathSeparator)));
        dirs.add("/usr/bin");
        for (String dir : dirs) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, "taskset");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }
}
