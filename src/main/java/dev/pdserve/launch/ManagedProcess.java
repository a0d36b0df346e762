package dev.pdserve.launch;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One started child process with its log file: wait until it is ready, read its log's tail, stop it. */
public final class ManagedProcess {
    private static final Duration POLL = Duration.ofMillis(100);
    private static final int TAIL_LINES = 30;

    private final ProcessSpec spec;
    private final Process process;
    private long logScanned; // bytes of the log already searched for the ready line

    private ManagedProcess(ProcessSpec spec, Process process) {
        this.spec = spec;
        this.process = process;
    }

    /** Starts the process with stdout and stderr appended to a fresh log file; use {@link ProcessGroup#start}. */
    static ManagedProcess start(ProcessSpec spec) {
        try {
            Path parent = spec.logFile().toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Files.deleteIfExists(spec.logFile());
            Process p = new ProcessBuilder(spec.command()).redirectErrorStream(true)
                    .redirectOutput(spec.logFile().toFile()).redirectInput(ProcessBuilder.Redirect.PIPE).start();
            return new ManagedProcess(spec, p);
        } catch (IOException e) {
            throw new LaunchException("cannot start " + spec.name() + " (" + String.join(" ", spec.command()) + "): " + e.getMessage(), e);
        }
    }

    public String name() {
        return spec.name();
    }

    public Path logFile() {
        return spec.logFile();
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Returns once the log shows {@link ProcessSpec#READY_LINE} or the health URL answers 200. Throws a
     * {@link LaunchException} with the log's tail when the process exits first or {@code timeout} passes.
     */
    public void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (HttpClient http = spec.healthUrl() == null ? null
                : HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            while (true) {
                if (logShowsReadyLine() || healthy(http)) return;
                if (!process.isAlive()) {
                    throw new LaunchException(name() + " exited with code " + process.exitValue()
                            + " before it was ready" + logTailMessage());
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new LaunchException(name() + " was not ready after " + timeout.toSeconds() + " s (no '"
                            + ProcessSpec.READY_LINE + "'" + (spec.healthUrl() == null ? "" : ", no 200 from " + spec.healthUrl())
                            + ")" + logTailMessage());
                }
                Thread.sleep(POLL);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaunchException("interrupted while waiting for " + name() + " to start", e);
        }
    }

    /** Searches only the bytes written since the last call (plus one line's overlap, in case the line was cut). */
    private boolean logShowsReadyLine() {
        try (RandomAccessFile f = new RandomAccessFile(spec.logFile().toFile(), "r")) {
            long len = f.length();
            long from = Math.max(0, logScanned - ProcessSpec.READY_LINE.length());
            if (len <= from) return false;
            byte[] buf = new byte[(int) Math.min(len - from, 1 << 20)];
            f.seek(from);
            f.readFully(buf);
            logScanned = from + buf.length;
            return new String(buf, StandardCharsets.UTF_8).contains(ProcessSpec.READY_LINE);
        } catch (IOException e) {
            return false; // not created yet
        }
    }

    private boolean healthy(HttpClient http) {
        if (http == null) return false;
        try {
            HttpRequest req = HttpRequest.newBuilder(spec.healthUrl()).timeout(Duration.ofSeconds(2)).GET().build();
            return http.send(req, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false; // not listening yet
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The last {@code n} lines of the log (fewer when it is shorter; empty when there is no log yet). */
    public List<String> logTail(int n) {
        try (RandomAccessFile f = new RandomAccessFile(spec.logFile().toFile(), "r")) {
            long len = f.length();
            long from = Math.max(0, len - 64 * 1024);
            byte[] buf = new byte[(int) (len - from)];
            f.seek(from);
            f.readFully(buf);
            List<String> lines = Arrays.asList(new String(buf, StandardCharsets.UTF_8).split("\\R"));
            return List.copyOf(lines.subList(Math.max(0, lines.size() - n), lines.size()));
        } catch (IOException e) {
            return List.of();
        }
    }

    private String logTailMessage() {
        List<String> tail = logTail(TAIL_LINES);
        if (tail.isEmpty() || tail.equals(List.of(""))) return "; its log " + logFile() + " is empty";
        return "; last lines of " + logFile() + ":\n    " + String.join("\n    ", tail);
    }

    /** Sends SIGTERM (to the process and anything it started); use {@link #awaitExit} or {@link #stop} to wait. */
    void terminate() {
        process.toHandle().descendants().forEach(ProcessHandle::destroy);
        process.destroy();
    }

    /** Waits up to {@code grace} for the exit, then SIGKILLs; returns the exit code. */
    int awaitExit(Duration grace) {
        try {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                process.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                if (!process.waitFor(10, TimeUnit.SECONDS)) throw new LaunchException("cannot kill " + name() + " (pid " + pid() + ")");
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new LaunchException("interrupted while stopping " + name(), e);
        }
    }

    /** SIGTERM, then SIGKILL after {@code grace}; returns the exit code. */
    public int stop(Duration grace) {
        terminate();
        return awaitExit(grace);
    }

    @Override
    public String toString() {
        return name() + " (pid " + pid() + ", log " + logFile() + ")";
    }
}
