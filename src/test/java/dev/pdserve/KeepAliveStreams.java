package dev.pdserve;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Streamed completions over one raw keep-alive connection, for the tests that check SSE events are
 * not held back by Nagle's algorithm (which shows only once the connection is reused).
 */
public final class KeepAliveStreams {
    private KeepAliveStreams() {}

    /**
     * POSTs each body to {@code /v1/completions} on one connection, the request in one write (the
     * request side is not what is tested), and returns per stream the milliseconds from its first
     * byte to the end of its chunked body ({@code data: [DONE]}, then the last chunk).
     */
    public static List<Double> millisFirstByteToEnd(int port, List<String> bodies) throws IOException {
        List<Double> ms = new ArrayList<>();
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[8192];
            for (String body : bodies) {
                String request = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.length() + "\r\n\r\n" + body;
                socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
                StringBuilder got = new StringBuilder();
                long first = 0;
                while (!(got.indexOf("data: [DONE]") >= 0 && got.toString().endsWith("0\r\n\r\n"))) {
                    int n = in.read(buf);
                    if (n < 0) throw new IOException("connection closed mid-stream: " + got);
                    if (first == 0) first = System.nanoTime();
                    got.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
                }
                ms.add((System.nanoTime() - first) / 1e6);
            }
        }
        return ms;
    }

    /** The median of {@code values}. */
    public static double median(List<Double> values) {
        return values.stream().sorted().toList().get(values.size() / 2);
    }
}
