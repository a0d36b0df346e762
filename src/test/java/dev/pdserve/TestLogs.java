package dev.pdserve;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Where the pdserve processes a test class starts write their logs: {@code target/test-logs/CLASS/},
 * kept after the run (until the class runs again). With {@code @ExtendWith(TestLogs.class)} every
 * failure of the class names that folder (as a suppressed exception, printed under the failure), so
 * the console says where to look.
 */
public final class TestLogs implements TestExecutionExceptionHandler, LifecycleMethodExecutionExceptionHandler {
    private static final Set<Class<?>> EMPTIED = ConcurrentHashMap.newKeySet();

    /** The folder for {@code testClass}'s child logs, created if needed and emptied of an earlier run's logs. */
    public static Path dir(Class<?> testClass) {
        Path dir = TestModels.repo().resolve("target/test-logs").resolve(testClass.getSimpleName());
        try {
            Files.createDirectories(dir);
            if (EMPTIED.add(testClass)) {
                try (Stream<Path> old = Files.list(dir)) {
                    for (Path p : old.toList()) Files.deleteIfExists(p);
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** JVM flags that give a child the test JVM's logging setup (src/test/resources/logging.properties). */
    public static List<String> jvmFlags() {
        List<String> flags = new ArrayList<>();
        String config = System.getProperty("java.util.logging.config.file");
        if (config != null) flags.add("-Djava.util.logging.config.file=" + config);
        return flags;
    }

    private static Throwable named(ExtensionContext context, Throwable t) {
        t.addSuppressed(new LogsAt(dir(context.getRequiredTestClass())));
        return t;
    }

    /** Carries only its message: where the logs are. */
    private static final class LogsAt extends Exception {
        LogsAt(Path dir) { super("logs of the processes this test started: " + dir, null, false, false); }
    }

    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable t) throws Throwable { throw named(context, t); }

    @Override
    public void handleBeforeAllMethodExecutionException(ExtensionContext context, Throwable t) throws Throwable { throw named(context, t); }

    @Override
    public void handleBeforeEachMethodExecutionException(ExtensionContext context, Throwable t) throws Throwable { throw named(context, t); }

    @Override
    public void handleAfterEachMethodExecutionException(ExtensionContext context, Throwable t) throws Throwable { throw named(context, t); }

    @Override
    public void handleAfterAllMethodExecutionException(ExtensionContext context, Throwable t) throws Throwable { throw named(context, t); }
}
