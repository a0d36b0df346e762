package dev.pdserve.server;

import dev.pdserve.http.ApiException;
import dev.pdserve.tokenizer.ChatTemplateInput;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A {@link TextCodec} that cannot stall the server. Requests run on virtual threads, and a
 * virtual thread in a native call (the Rust tokenizer) or a long computation holds its carrier:
 * two huge prompts on two cores left {@code /health} unanswered for seconds. So encoding,
 * decoding and template rendering run on the codec's own platform threads while the request's
 * virtual thread waits unmounted. And a text longer in bytes than {@code maxModelLen} tokens
 * can possibly cover ({@link TextCodec#maxBytesPerToken()}) is refused before any of it is
 * tokenized: 400, as the engine would refuse its tokens.
 */
final class TokenizerGuard implements TextCodec, AutoCloseable {
    private final TextCodec codec;
    private final long maxBytes;
    private final ExecutorService threads;

    TokenizerGuard(TextCodec codec, int maxModelLen) {
        this.codec = codec;
        int perToken = codec.maxBytesPerToken();
        this.maxBytes = perToken > 0 ? (long) maxModelLen * perToken : Long.MAX_VALUE;
        this.threads = Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors()),
                Thread.ofPlatform().daemon().name("pdserve-tokenizer-", 0).factory());
    }

    /** Refuses a text that has more tokens than the context holds, by its UTF-8 length alone. */
    private void checkLength(String text) {
        if (maxBytes == Long.MAX_VALUE || (long) text.length() * 3 <= maxBytes) return; // a char is at most 3 UTF-8 bytes
        long bytes = utf8Length(text);
        if (bytes > maxBytes) {
            throw ApiException.badRequest("prompt", "The prompt is " + bytes + " bytes: more than this model's maximum context length of "
                    + maxBytes / codec.maxBytesPerToken() + " tokens can hold (a token stands for at most " + codec.maxBytesPerToken()
                    + " bytes). Please reduce the length of the input.");
        }
    }

    static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) n++;
            else if (c < 0x800) n += 2;
            else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else n += 3;
        }
        return n;
    }

    private <T> T onThreads(Callable<T> work) {
        Future<T> f = threads.submit(work);
        try {
            return f.get();
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new ApiException(499, null, "The request was interrupted while it was tokenized");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        checkLength(text);
        return onThreads(() -> codec.encode(text, addSpecialTokens));
    }

    @Override public String decode(int[] ids, boolean skipSpecialTokens) { return onThreads(() -> codec.decode(ids, skipSpecialTokens)); }

    @Override public String tokenText(int id) { return codec.tokenText(id); }

    @Override public int vocabSize() { return codec.vocabSize(); }

    @Override public int maxBytesPerToken() { return codec.maxBytesPerToken(); }

    @Override public boolean hasChatTemplate() { return codec.hasChatTemplate(); }

    @Override
    public String applyChatTemplate(ChatTemplateInput input) { return onThreads(() -> codec.applyChatTemplate(input)); }

    @Override
    public void close() { threads.shutdownNow(); }
}
