package dev.pdserve.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Collects one request's outputs; {@link #await()} waits for the final one. */
final class Collector implements OutputSink {
    final List<RequestOutput> outputs = new ArrayList<>();
    final CompletableFuture<RequestOutput> last = new CompletableFuture<>();

    @Override
    public synchronized void accept(RequestOutput o) {
        if (last.isDone()) throw new AssertionError("output after the final one: " + o);
        outputs.add(o);
        if (o.finished()) last.complete(o);
    }

    RequestOutput await() {
        try {
            return last.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("request did not finish: " + e, e);
        }
    }

    int[] tokens() {
        await();
        synchronized (this) {
        return outputs.stream().flatMapToInt(o -> java.util.Arrays.stream(o.newTokenIds())).toArray();
        }
    }

    String text() {
        await();
        synchronized (this) {
        StringBuilder sb = new StringBuilder();
        for (RequestOutput o : outputs) sb.append(o.textDelta());
        return sb.toString();
        }
    }

    List<TokenLogprob> logprobs() {
        await();
        synchronized (this) {
        List<TokenLogprob> all = new ArrayList<>();
        for (RequestOutput o : outputs) if (o.logprobs() != null) all.addAll(o.logprobs());
        return all;
        }
    }
}
