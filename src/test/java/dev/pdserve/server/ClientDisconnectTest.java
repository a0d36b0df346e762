package dev.pdserve.server;

import dev.pdserve.http.TcpPeerTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static dev.pdserve.Await.until;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A non-streaming client that closes its connection while the answer is computed aborts its
 * request and frees its blocks, over real HTTP from a raw socket; clients that stay (keep-alive,
 * pipelining, long requests) are answered as before.
 */
class ClientDisconnectTest {
    static final String ABORT_METRIC = "vllm:request_success_total{engine=\"0\",finished_reason=\"abort\",model_name=\"tiny\"} 1.0";
    ScriptedEngine engine;
    OpenAiServer server;

    @BeforeEach
    void start() {
        assumeTrue(TcpPeerTest.LINUX, "the kernel is asked through Linux's sock_diag");
        engine = new ScriptedEngine(4096, 10);
        server = new OpenAiServer(engine, engine.codec(), OpenAiServer.Options.loopback("tiny")).start();
    }

    @AfterEach
    void stop() {
        if (server != null) server.close();
        if (engine != null) engine.close();
    }

    static byte[] post(String body) {
        return ("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8);
    }

    /** Sends a long request on a fresh connection and waits until the engine holds blocks for it. */
    Socket sendLongRequest() throws Exception {
        Socket s = new Socket("127.0.0.1", server.port());
        s.getOutputStream().write(post("{\"prompt\":\"hello\",\"max_tokens\":3000}"));
        s.getOutputStream().flush();
        until("the engine to hold blocks for the request", () -> engine.blocksUsed() > 0);
        return s;
    }

    void assertAbortedAndFreed() throws Exception {
        until("the engine request to be aborted", () -> !engine.aborted.isEmpty());
        assertThat(engine.aborted).hasSize(1);
        until("its blocks to be freed", () -> engine.blocksUsed() == 0);
        assertThat(engine.stats().kvCacheUsage()).isZero();
        until("the abort to be counted", () -> server.metrics().scrape().contains(ABORT_METRIC));
    }

    @Test
    void clientThatClosesAbortsItsRequestAndFreesItsBlocks() throws Exception {
        Socket s = sendLongRequest();
        long closed = System.nanoTime();
        s.close();
        assertAbortedAndFreed();
        // 3000 tokens at 10 ms would take 30 s; the kernel is asked every 100 ms.
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closed)).isLessThan(3000);
    }

    @Test
    void clientThatResetsTheConnectionAbortsToo() throws Exception {
        Socket s = sendLongRequest();
        s.setSoLinger(true, 0); // close sends RST instead of FIN
        s.close();
        assertAbortedAndFreed();
    }

    @Test
    void halfCloseCountsAsGoneAndGets499() throws Exception {
        // TCP cannot tell shutdownOutput() from close() until the server writes: both send a FIN.
        try (Socket s = sendLongRequest()) {
            s.shutdownOutput();
            s.setSoTimeout(10_000);
            Response r = Response.read(new BufferedInputStream(s.getInputStream()));
            assertThat(r.status).isEqualTo(499);
            assertThat(r.body).contains("closed the connection");
        }
        assertAbortedAndFreed();
    }

    @Test
    void keepAliveAndPipelinedClientsAreAnswered() throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(30_000);
            InputStream in = new BufferedInputStream(s.getInputStream());
            // Longer than several scans of the socket table.
            s.getOutputStream().write(post("{\"prompt\":\"hi\",\"max_tokens\":40}"));
            Response first = Response.read(in);
            assertThat(first.status).as(first.body).isEqualTo(200);
            assertThat(first.body).contains("\"completion_tokens\":40");
            // Two pipelined requests on the same kept-alive connection.
            s.getOutputStream().write(post("{\"prompt\":\"a\",\"max_tokens\":20}"));
            s.getOutputStream().write(post("{\"prompt\":\"b\",\"max_tokens\":5}"));
            assertThat(Response.read(in).status).isEqualTo(200);
            assertThat(Response.read(in).status).isEqualTo(200);
        }
        Http h = new Http(server.port());
        for (int i = 0; i < 3; i++) {
            assertThat(h.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":25}").statusCode()).isEqualTo(200);
        }
        assertThat(engine.aborted).isEmpty();
        assertThat(server.metrics().scrape()).doesNotContain(ABORT_METRIC);
    }

    /** One HTTP/1.1 response with a Content-Length body. */
    record Response(int status, String body) {
        static Response read(InputStream in) throws IOException {
            String statusLine = line(in);
            int length = 0;
            for (String h; !(h = line(in)).isEmpty(); ) {
                if (h.toLowerCase().startsWith("content-length:")) length = Integer.parseInt(h.substring(15).trim());
            }
            return new Response(Integer.parseInt(statusLine.split(" ")[1]), new String(in.readNBytes(length), StandardCharsets.UTF_8));
        }

        private static String line(InputStream in) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (int c; (c = in.read()) != '\n'; ) {
                if (c < 0) throw new IOException("connection closed");
                if (c != '\r') b.write(c);
            }
            return b.toString(StandardCharsets.US_ASCII);
        }
    }
}
