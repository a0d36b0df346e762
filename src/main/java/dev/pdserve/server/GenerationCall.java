package dev.pdserve.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.EngineException;
import dev.pdserve.engine.FinishReason;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.InferenceEngine;
import dev.pdserve.engine.RequestOutput;
import dev.pdserve.engine.SamplingParams;
import dev.pdserve.engine.TokenLogprob;
import dev.pdserve.http.ApiException;
import dev.pdserve.http.ErrorBody;
import dev.pdserve.http.HttpEdge;
import dev.pdserve.http.TcpPeer;
import dev.pdserve.toolcall.ToolCallParser;
import dev.pdserve.toolcall.ToolCallStream;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * One completions or chat request from submit to the last byte: one engine request per prompt
 * and per n, their outputs handed from the engine thread through a queue to this (virtual)
 * thread, which answers with one JSON body or an SSE stream. A client that goes away aborts its
 * engine requests, which frees their KV blocks at once: while streaming, the failed write tells;
 * while a whole answer is computed nothing is written, so the kernel is asked every
 * {@value TcpPeer#CHECK_MILLIS} ms whether the client closed the connection ({@link TcpPeer}).
 */
final class GenerationCall {
    private static final Logger LOG = Logger.getLogger(GenerationCall.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    private final InferenceEngine engine;
    private final ApiRequest request;
    private final VllmMetrics metrics;
    private final ResponseFormat format;
    private final TextCodec codec;
    private final List<Choice> choices = new ArrayList<>();
    private final Map<String, Choice> byId = new HashMap<>();
    private final LinkedBlockingQueue<RequestOutput> outputs = new LinkedBlockingQueue<>();
    private long nextCheck = System.nanoTime();
    private boolean roleSent;

    /** Thrown when a write to the client fails: it disconnected. */
    private static final class ClientGone extends RuntimeException {
        ClientGone(Throwable cause) { super(cause); }
    }

    GenerationCall(InferenceEngine engine, ApiRequest request, VllmMetrics metrics, ResponseFormat format, TextCodec codec) {
        this.engine = engine;
        this.codec = codec;
        this.request = request;
        this.metrics = metrics;
        this.format = format;
    }

    /** Submits one engine request per prompt and per n; on a refusal aborts those already in. */
    void submit(String idPrefix, int maxModelLen) {
        long arrival = System.nanoTime();
        ObjectNode kv = request.kvTransferParams();
        if (asksForKvTransfer(kv) && request.prompts().size() > 1) {
            throw new ApiException(400, "kv_transfer_params", "kv_transfer_params (do_remote_decode / do_remote_prefill) needs exactly one prompt, got "
                    + request.prompts().size());
        }
        // A prefill for a remote decode computes the prompt once, whatever n: the decode instance samples the n.
        int n = kv != null && kv.path("do_remote_decode").asBoolean(false) ? 1 : request.n();
        int index = 0;
        for (int p = 0; p < request.prompts().size(); p++) {
            int[] prompt = request.prompts().get(p);
            int maxTokens = request.samplingFor(prompt.length, maxModelLen).maxTokens();
            for (int i = 0; i < n; i++, index++) {
                Choice c = request.echo()
                        ? new Choice(index, idPrefix + "-" + index, p, prompt.length, maxTokens, arrival, prompt, echoText(p), request.echoOnly())
                        : new Choice(index, idPrefix + "-" + index, p, prompt.length, maxTokens, arrival);
                ToolCallParser reader = request.tools() == null ? null : request.tools().responseParser();
                if (reader != null) c.tools = new ToolCallStream(reader);
                choices.add(c);
                byId.put(c.requestId, c);
            }
        }
        index = 0;
        int submitted = 0;
        try {
            for (int[] prompt : request.prompts()) {
                List<GenerationRequest> samples = new ArrayList<>();
                for (int i = 0; i < n; i++, index++) {
                    SamplingParams sampling = request.samplingFor(prompt.length, maxModelLen);
                    // As vLLM's parallel sampling: a seeded request's i-th sample uses seed + i, so n samples differ.
                    if (sampling.seed() != null) sampling = sampling.toBuilder().seed(sampling.seed() + i).build();
                    samples.add(new GenerationRequest(choices.get(index).requestId, prompt, sampling, kv));
                }
                // Together: on a decode instance the n samples pull the prompt's KV once and share it.
                engine.submitSamples(samples, outputs::add);
                submitted = index;
            }
        } catch (EngineException e) {
            for (int i = 0; i < submitted; i++) engine.abort(choices.get(i).requestId);
            // A chat request's prompt is its messages.
            String param = request.kind() == ApiRequest.Kind.CHAT && "prompt".equals(e.param) ? "messages" : e.param;
            throw new ApiException(e.status, param, e.getMessage());
        }
    }

    /** The prompt as echo shows it: as the client wrote it, or a token-id prompt decoded. */
    private String echoText(int p) {
        String text = request.promptTexts().get(p);
        return text != null ? text : codec.decode(request.prompts().get(p), request.sampling().skipSpecialTokens());
    }

    private static boolean asksForKvTransfer(ObjectNode kv) {
        return kv != null && (kv.path("do_remote_decode").asBoolean(false) || kv.path("do_remote_prefill").asBoolean(false));
    }

    /**
     * Waits for every choice to finish, then sends one JSON response; if the client closes the
     * connection first, aborts and answers 499 to no one (or to a client that only shut down its
     * output).
     */
    void respondWhole(ServerResponse res, TcpPeer client) throws InterruptedException {
        try {
            int open = choices.size();
            while (open > 0) {
                Choice c = take(client);
                if (c == null) {
                    int aborted = abortUnfinished();
                    LOG.info(() -> "client closed the connection; aborted " + aborted + " request(s) " + choices.get(0).requestId + "..");
                    try {
                        HttpEdge.sendJson(res, 499, ErrorBody.of(499, null, "The client closed the connection; the request was aborted"));
                    } catch (RuntimeException ignored) {
                        // nobody is listening
                    }
                    return;
                }
                if (c.finished) open--;
            }
        } catch (InterruptedException e) {
            abortUnfinished();
            throw e;
        }
        for (Choice c : choices) {
            if (c.finishReason == FinishReason.ERROR) {
                String message = "generation failed: " + (c.error == null ? "engine error" : c.error);
                throw RequestOutput.causedByRequest(c.error) ? ApiException.causedByRequest(c.errorStatus, null, message)
                        : new ApiException(c.errorStatus, null, message);
            }
        }
        HttpEdge.sendJson(res, 200, format.full(choices));
    }

    /** Streams chunks as server-sent events, each flushed at once; ends with {@code data: [DONE]}. */
    void respondStream(ServerResponse res) throws InterruptedException {
        res.status(200);
        res.header(HeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        res.header(HeaderNames.CACHE_CONTROL, "no-cache");
        OutputStream out = res.outputStream();
        try {
            int open = choices.size();
            String failure = null;
            int failureStatus = 500;
            while (open > 0) {
                RequestOutput o = outputs.take();
                Choice c = byId.get(o.requestId());
                if (c == null || c.finished) continue;
                // As vLLM, the chat role chunks go out with the first engine output, not before the prefill:
                // a client timing its first chunk (vllm bench serve) must see the first token's time.
                if (!roleSent) roleSent = roleChunks(out);
                int textStart = c.text.length();
                int lpStart = c.logprobs.size();
                apply(c, o);
                if (c.finished) open--;
                if (c.finished && c.finishReason == FinishReason.ERROR) {
                    failure = c.error == null ? "engine error" : c.error;
                    failureStatus = c.errorStatus;
                    break;
                }
                String delta = c.text.substring(textStart);
                ToolCallStream.Delta tools = c.tools == null ? null : c.tools.update(c.text.toString(), c.finished);
                if (tools != null) delta = tools.content();
                List<TokenLogprob> newLps = List.copyOf(c.logprobs.subList(lpStart, c.logprobs.size()));
                if (delta.isEmpty() && newLps.isEmpty() && !c.finished && (tools == null || tools.isEmpty())) continue;
                event(out, format.deltaChunk(c, delta, tools, newLps, c.finished, choices));
                c.streamedTextOffset += format.textLength(newLps);
            }
            if (!roleSent) roleChunks(out);
            if (failure != null) {
                abortUnfinished();
                event(out, ErrorBody.of(failureStatus, null, "generation failed: " + failure));
            } else if (request.includeUsage()) {
                event(out, format.usageChunk(choices));
            }
            write(out, DONE);
            close(out);
        } catch (ClientGone e) {
            int aborted = abortUnfinished();
            LOG.info(() -> "client went away mid-stream; aborted " + aborted + " request(s) " + choices.get(0).requestId + "..");
        } catch (InterruptedException e) {
            abortUnfinished();
            throw e;
        }
    }

    private boolean roleChunks(OutputStream out) {
        if (request.kind() == ApiRequest.Kind.CHAT) {
            for (Choice c : choices) event(out, format.roleChunk(c));
        }
        return true;
    }

    /** The choice the next output belongs to, after applying it; null when the client closed the connection. */
    private Choice take(TcpPeer client) throws InterruptedException {
        while (true) {
            long wait = nextCheck - System.nanoTime();
            RequestOutput o = wait > 0 ? outputs.poll(wait, TimeUnit.NANOSECONDS) : null;
            if (o == null) { // checked by the clock, so a steady flow of outputs does not put it off
                if (client.closed()) return null;
                nextCheck = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TcpPeer.CHECK_MILLIS);
                continue;
            }
            Choice c = byId.get(o.requestId());
            if (c == null || c.finished) continue;
            apply(c, o);
            return c;
        }
    }

    private void apply(Choice c, RequestOutput o) {
        c.apply(o, metrics);
        if (c.finished) promptDone(c.promptIndex);
    }

    /** When the last of a prompt's n choices ends, vLLM records the longest of them and n. */
    private void promptDone(int promptIndex) {
        int max = 0;
        for (Choice c : choices) {
            if (c.promptIndex != promptIndex) continue;
            if (!c.finished) return;
            max = Math.max(max, c.completionTokens);
        }
        metrics.recordParallelSampling(max, request.n());
    }

    private int abortUnfinished() {
        int n = 0;
        for (Choice c : choices) {
            if (!c.finished) {
                engine.abort(c.requestId);
                metrics.recordFinished(c.abort(System.nanoTime()));
                promptDone(c.promptIndex);
                n++;
            }
        }
        return n;
    }

    private static void event(OutputStream out, ObjectNode json) {
        try {
            byte[] body = JSON.writeValueAsBytes(json);
            byte[] frame = new byte[body.length + 8];
            System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, frame, 0, 6);
            System.arraycopy(body, 0, frame, 6, body.length);
            frame[frame.length - 2] = '\n';
            frame[frame.length - 1] = '\n';
            write(out, frame);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void write(OutputStream out, byte[] bytes) {
        try {
            out.write(bytes);
            out.flush();
        } catch (Exception e) {
            // Helidon reports a closed connection as an IOException or an unchecked socket error.
            throw new ClientGone(e);
        }
    }

    private static void close(OutputStream out) {
        try {
            out.close();
        } catch (Exception e) {
            throw new ClientGone(e);
        }
    }
}
