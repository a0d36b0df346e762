package dev.pdserve.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * HTTP/1.1 bytes written by hand to a socket on loopback, for what a well-behaved client never
 * sends: cut bodies, bad chunk sizes, a TLS hello. Reads one response (by Content-Length, chunked
 * or to EOF).
 */
public final class RawHttp {
    public static final ObjectMapper JSON = new ObjectMapper();

    public record Response(int status, Map<String, String> headers, byte[] body) {
        public String text() { return new String(body, StandardCharsets.UTF_8); }

        public String header(String name) { return headers.get(name.toLowerCase(Locale.ROOT)); }

        /** The OpenAI error object, checking the status is {@code code} and the body is JSON. */
        public JsonNode error() throws IOException {
            assertThat(header("content-type")).as(this.toString()).startsWith("application/json");
            JsonNode e = JSON.readTree(body).get("error");
            assertThat(e).as(text()).isNotNull();
            assertThat(e.get("message").asText()).as(text()).isNotBlank();
            assertThat(e.get("type").asText()).isNotBlank();
            assertThat(e.has("param")).isTrue();
            assertThat(e.get("code").asInt()).isEqualTo(status);
            return e;
        }

        @Override public String toString() { return status + " " + headers + " " + text(); }
    }

    private RawHttp() {}

    /** Sends {@code bytes}, then (if {@code finAfter}) shuts the sending side, and reads the answer. */
    public static Response exchange(int port, byte[] bytes, boolean finAfter) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(30_000);
            s.getOutputStream().write(bytes);
            s.getOutputStream().flush();
            if (finAfter) s.shutdownOutput();
            return read(s.getInputStream());
        }
    }

    public static Response exchange(int port, String ascii, boolean finAfter) throws IOException {
        return exchange(port, ascii.getBytes(StandardCharsets.ISO_8859_1), finAfter);
    }

    /** One response from {@code in}; status 0 when the server closed without answering. */
    public static Response read(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int c, state = 0;
        try {
            while (state < 4 && (c = in.read()) >= 0) {
                head.write(c);
                state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no answer within 30 s; got so far: " + head.toString(StandardCharsets.ISO_8859_1));
        } catch (IOException e) { // reset by the server
            if (head.size() == 0) return new Response(0, Map.of(), new byte[0]);
            throw e;
        }
        if (head.size() == 0) return new Response(0, Map.of(), new byte[0]);
        String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
        }
        byte[] body;
        if (headers.containsKey("content-length")) {
            body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
        } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            while (true) {
                StringBuilder size = new StringBuilder();
                while ((c = in.read()) >= 0 && c != '\n') if (c != '\r') size.append((char) c);
                int n = Integer.parseInt(size.toString().split(";")[0].strip(), 16);
                if (n == 0) break;
                out.write(in.readNBytes(n));
                in.readNBytes(2);
            }
            body = out.toByteArray();
        } else {
            body = in.readAllBytes();
        }
        return new Response(status, headers, body);
    }
}
