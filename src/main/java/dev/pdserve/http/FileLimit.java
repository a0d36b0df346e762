package dev.pdserve.http;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.logging.Logger;

/**
 * The process's open-file limit (RLIMIT_NOFILE). Every connection is a file descriptor, and the
 * soft limit is often 1024 while the hard one is far higher: {@link #raise()} lifts the soft
 * limit to the hard one once, at start (getrlimit/setrlimit through FFM), so the connection cap
 * ({@link ConnectionGate}) can be sized below what the kernel allows instead of running into it.
 */
public final class FileLimit {
    private static final Logger LOG = Logger.getLogger(FileLimit.class.getName());
    private static final int RLIMIT_NOFILE = 7; // Linux, every architecture pdserve runs on
    /** What the JDK assumes when it cannot ask: the common default soft limit. */
    private static final long UNKNOWN = 1024;
    private static volatile long current = -1;

    private FileLimit() {}

    /** Raises the soft limit to the hard one (once per process) and returns the soft limit now in force. */
    public static synchronized long raise() {
        if (current > 0) return current;
        current = UNKNOWN;
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) return current;
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            FunctionDescriptor fd = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS);
            MethodHandle get = linker.downcallHandle(linker.defaultLookup().find("getrlimit").orElseThrow(), fd);
            MethodHandle set = linker.downcallHandle(linker.defaultLookup().find("setrlimit").orElseThrow(), fd);
            MemorySegment rlim = arena.allocate(16, 8); // struct rlimit { rlim_t rlim_cur, rlim_max; }
            if ((int) get.invokeExact(RLIMIT_NOFILE, rlim) != 0) return current;
            long soft = rlim.get(ValueLayout.JAVA_LONG, 0), hard = rlim.get(ValueLayout.JAVA_LONG, 8);
            current = soft;
            if (hard != soft) {
                rlim.set(ValueLayout.JAVA_LONG, 0, hard);
                if ((int) set.invokeExact(RLIMIT_NOFILE, rlim) == 0) {
                    current = hard;
                    LOG.info("open-file limit raised from " + soft + " to " + hard);
                } else {
                    LOG.warning("could not raise the open-file limit from " + soft + " to " + hard);
                }
            }
        } catch (Throwable t) {
            LOG.warning("could not read the open-file limit: " + t);
        }
        // RLIM_INFINITY reads as -1: plenty.
        if (current < 0) current = Long.MAX_VALUE;
        return current;
    }
}
