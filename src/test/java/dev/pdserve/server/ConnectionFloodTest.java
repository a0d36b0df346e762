package dev.pdserve.server;

import dev.pdserve.http.FileLimit;
import dev.pdserve.http.HttpEdge;
import dev.pdserve.http.RawHttp;
import dev.pdserve.proxy.InstanceAddress;
import dev.pdserve.proxy.ProxyConfig;
import dev.pdserve.proxy.ProxyServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Connection floods (issue 17), against a cap configured low: at the limit the connections
 * already open are still served, new ones get a 503 JSON at once and are closed, the limit is
 * logged once, and when the idle clients go the listener is fully back. Idle keep-alive
 * connections are closed after the idle timeout. Same on the server and the proxy.
 */
class ConnectionFloodTest {
    static final int CAP = 24;
    static ScriptedEngine engine;

    @BeforeAll
    static void start() { engine = new ScriptedEngine(64, 1); }

    @AfterAll
    static void stop() { engine.close(); }

    static final String REQUEST = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 33\r\n\r\n"
            + "{\"prompt\":\"hello\",\"max_tokens\":1}";

    static Socket connect(int port) throws Exception {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        s.setSoTimeout(30_000);
        return s;
    }

    static RawHttp.Response ask(Socket s) throws Exception {
        OutputStream out = s.getOutputStream();
        out.write(REQUEST.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return RawHttp.read(s.getInputStream());
    }

    /** Warnings of the connection gate, counted. */
    static final class Warnings extends Handler {
        final List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        @Override public void publish(LogRecord r) { if (r.getLevel().intValue() >= Level.WARNING.intValue()) seen.add(r.getMessage()); }
        @Override public void flush() {}
        @Override public void close() {}
    }

    @Test
    void theServerShedsOverTheCapKeepsItsConnectionsAndRecovers() throws Exception {
        try (OpenAiServer server = new OpenAiServer(engine, engine.codec(), OpenAiServer.Options.loopback("tiny"))
                .connections(new HttpEdge.Connections(CAP, Duration.ofMinutes(5))).start()) {
            flood(server::port);
        }
    }

    @Test
    void theProxyShedsTheSameWay() throws Exception {
        try (OpenAiServer server = new OpenAiServer(engine, engine.codec(), OpenAiServer.Options.loopback("tiny")).start()) {
            InstanceAddress self = InstanceAddress.parse("127.0.0.1:" + server.port());
            ProxyServer proxy = ProxyServer.start(new ProxyConfig().host("127.0.0.1").port(0).prefillers(List.of(self)).decoders(List.of(self))
                    .healthInterval(Duration.ZERO).connections(new HttpEdge.Connections(CAP, Duration.ofMinutes(5))));
            try {
                flood(proxy::port);
            } finally {
                proxy.close();
            }
        }
    }

    static void flood(IntSupplier port) throws Exception {
        Logger gate = Logger.getLogger("dev.pdserve.http.ConnectionGate");
        Warnings warnings = new Warnings();
        gate.addHandler(warnings);
        List<Socket> idle = new ArrayList<>();
        try (Socket kept = connect(port.getAsInt())) {
            assertThat(ask(kept).status()).isEqualTo(200);
            // Three times the cap of idle clients: those over it are answered 503 and closed at once.
            for (int i = 0; i < 3 * CAP; i++) idle.add(connect(port.getAsInt()));
            until("the connections over the cap to be answered", () -> {
                int answered = 0;
                for (Socket s : idle) if (s.getInputStream().available() > 0) answered++;
                return answered == 2 * CAP + 1;
            });
            int refused = 0;
            List<Socket> open = new ArrayList<>();
            for (Socket s : idle) {
                if (s.getInputStream().available() == 0) {
                    open.add(s); // admitted: silent, as an idle keep-alive connection is
                    continue;
                }
                RawHttp.Response r = RawHttp.read(s.getInputStream());
                assertThat(r.status()).as(r.toString()).isEqualTo(503);
                assertThat(r.error().get("message").asText()).contains("limit");
                assertThat(r.header("connection")).isEqualTo("close");
                assertThat(s.getInputStream().read()).isEqualTo(-1);
                refused++;
            }
            assertThat(open).hasSize(CAP - 1);
            assertThat(refused).isEqualTo(2 * CAP + 1);
            // At the limit the connections it has are served, old and new alike.
            assertThat(ask(kept).status()).isEqualTo(200);
            assertThat(ask(open.getFirst()).status()).isEqualTo(200);
            try (Socket late = connect(port.getAsInt())) {
                assertThat(RawHttp.read(late.getInputStream()).status()).isEqualTo(503);
            }
            assertThat(warnings.seen).hasSize(1);
            // The load goes: fully back.
            for (Socket s : idle) s.close();
            until("new connections to be served again", () -> {
                try (Socket s = connect(port.getAsInt())) {
                    return ask(s).status() == 200;
                }
            });
            List<Socket> again = new ArrayList<>();
            try {
                for (int i = 0; i < CAP - 1; i++) again.add(connect(port.getAsInt()));
                for (Socket s : again) assertThat(ask(s).status()).isEqualTo(200);
            } finally {
                for (Socket s : again) s.close();
            }
        } finally {
            for (Socket s : idle) s.close();
            gate.removeHandler(warnings);
        }
    }

    @Test
    void anIdleKeepAliveConnectionIsClosedAfterTheTimeout() throws Exception {
        try (OpenAiServer server = new OpenAiServer(engine, engine.codec(), OpenAiServer.Options.loopback("tiny"))
                .connections(new HttpEdge.Connections(CAP, Duration.ofSeconds(1))).start();
             Socket used = connect(server.port()); Socket silent = connect(server.port())) {
            assertThat(ask(used).status()).isEqualTo(200);
            for (Socket s : List.of(used, silent)) {
                InputStream in = s.getInputStream();
                assertThat(in.read()).as("the server closes an idle connection").isEqualTo(-1);
            }
        }
    }

    @Test
    void theSoftOpenFileLimitIsRaisedToTheHardOne() throws Exception {
        long now = FileLimit.raise();
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (!line.startsWith("Max open files")) continue;
            String[] f = line.substring("Max open files".length()).trim().split("\\s+");
            assertThat(f[0]).isEqualTo(f[1]);
            if (!f[0].equals("unlimited")) assertThat(now).isEqualTo(Long.parseLong(f[0]));
        }
    }
}
