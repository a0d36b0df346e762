package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.http.HttpEdge;

/**
 * The proxy's JSON: it rewrites a client's body (max_tokens for the prefill, kv_transfer_params for
 * the decode) but forwards every number as the client wrote it. Decimals stay exact BigDecimals, so
 * {@code 1e400} goes on as {@code 1E+400} and the instance answers what it would answer directly
 * (not a double's {@code Infinity}), and {@code 0.10} keeps its digits. Trailing bytes after the object
 * are refused, as the server refuses them.
 */
final class ProxyJson {
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
            .build();

    private ProxyJson() {}

    /** A client's body as a JSON object: 400 when it is not JSON, not an object, or followed by more. */
    static ObjectNode object(byte[] body) {
        return HttpEdge.jsonObject(body, MAPPER);
    }
}
