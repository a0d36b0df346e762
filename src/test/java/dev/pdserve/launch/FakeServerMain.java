package dev.pdserve.launch;

import com.sun.net.httpserver.HttpServer;

import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * A tiny real server for the launcher tests, run as a child JVM:
 * {@code FakeServerMain PORT MODE [DELAY_MS]}. It logs a few lines, serves GET /health on loopback
 * (PORT 0: no server) and then, by MODE: {@code ready} prints the ready line, {@code health} only serves
 * /health, {@code silent} does neither, {@code fail} exits with code 3, {@code stubborn} prints the ready
 * line and ignores SIGTERM. It reports SIGTERM in its log and its core count at start.
 */
public final class FakeServerMain {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String mode = args[1];
        long delay = args.length > 2 ? Long.parseLong(args[2]) : 0;
        System.out.println("fake starting, cpus=" + Runtime.getRuntime().availableProcessors());
        System.err.println("fake: a line on stderr");
        Thread.sleep(delay);
        if (mode.equals("fail")) {
            System.out.println("boom: no model here");
            System.exit(3);
        }
        if (port > 0 && !mode.equals("silent")) {
            HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
            http.createContext("/health", ex -> {
                ex.sendResponseHeaders(200, -1);
                ex.close();
            });
            http.start();
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("fake got SIGTERM");
            System.out.flush();
            if (mode.equals("stubborn")) {
                try {
                    Thread.sleep(600_000);
                } catch (InterruptedException ignored) {
                    // killed anyway
                }
            }
        }));
        if (mode.equals("ready") || mode.equals("stubborn")) System.out.println("INFO:     " + ProcessSpec.READY_LINE);
        System.out.flush();
        Thread.sleep(600_000); // a server runs until it is stopped; 10 min bounds a leak if a test forgets
    }
}
