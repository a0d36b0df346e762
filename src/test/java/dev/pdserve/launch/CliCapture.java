package dev.pdserve.launch;

import dev.pdserve.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Runs a pdserve command in this JVM, as `./pdserve ARGS` would, and keeps what it printed. */
record CliCapture(int exitCode, String out, String err) {
    private static final Pattern PID = Pattern.compile("pid (\\d+)");

    static synchronized CliCapture run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            int code = Main.commandLine().execute(args);
            return new CliCapture(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** The pids the launcher announced ("started ... pid N, ..."). */
    List<Long> startedPids() {
        List<Long> pids = new ArrayList<>();
        for (String line : out.lines().filter(l -> l.startsWith("started ")).toList()) {
            Matcher m = PID.matcher(line);
            if (m.find()) pids.add(Long.parseLong(m.group(1)));
        }
        return pids;
    }

    @Override
    public String toString() {
        return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
}
