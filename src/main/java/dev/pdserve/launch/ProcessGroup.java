package dev.pdserve.launch;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The child processes one command started. {@link #close} stops them all, last started first; a shutdown
 * hook does the same when the JVM exits another way (Ctrl-C, SIGTERM, System.exit), so no child outlives us.
 * Only a SIGKILL of this JVM can strand them.
 */
public final class ProcessGroup implements AutoCloseable {
    private final Duration grace;
    private final List<ManagedProcess> processes = new ArrayList<>();
    private final Thread hook = new Thread(this::stopAll, "pdserve-stop-children");
    private boolean closed;

    /** @param grace how long each process gets after SIGTERM before SIGKILL */
    public ProcessGroup(Duration grace) {
        this.grace = grace;
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Starts a process that {@link #close} will stop; does not wait for it to be ready. */
    public synchronized ManagedProcess start(ProcessSpec spec) {
        if (closed) throw new LaunchException("not starting " + spec.name() + ": its process group is already stopped");
        ManagedProcess p = ManagedProcess.start(spec);
        processes.add(p);
        return p;
    }

    public synchronized List<ManagedProcess> processes() {
        return List.copyOf(processes);
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** Stops every process (SIGTERM to all, then SIGKILL to those still running after the grace period). */
    @Override
    public void close() {
        stopAll();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook is running or ran: it stops the same processes
        }
    }

    private void stopAll() {
        List<ManagedProcess> toStop;
        synchronized (this) {
            closed = true;
            toStop = new ArrayList<>(processes).reversed();
        }
        // Terminate all first, then wait: the processes drain in parallel, not one grace period after another.
        for (ManagedProcess p : toStop) p.terminate();
        LaunchException failure = null;
        for (ManagedProcess p : toStop) {
            try {
                p.awaitExit(grace);
            } catch (LaunchException e) {
                failure = e;
            }
        }
        if (failure != null) throw failure;
    }
}
