package dev.pdserve.launch;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A child JVM that owns a {@link ProcessGroup} with one {@link FakeServerMain} in it and never closes it:
 * the test stops this JVM as Ctrl-C would and checks the grandchild went with it (the shutdown hook).
 * {@code GroupHolderMain LOG_DIR}; prints "child pid N" once the grandchild is ready.
 */
public final class GroupHolderMain {
    public static void main(String[] args) throws Exception {
        ProcessGroup group = new ProcessGroup(Duration.ofSeconds(5));
        ManagedProcess child = group.start(new ProcessSpec("fake",
                JavaCommand.of(FakeServerMain.class.getName(), List.of("0", "ready"), null),
                Path.of(args[0]).resolve("grandchild.log"), null));
        child.awaitReady(Duration.ofSeconds(60));
        System.out.println("child pid " + child.pid());
        System.out.println("INFO:     " + ProcessSpec.READY_LINE);
        System.out.flush();
        Thread.sleep(600_000);
    }
}
