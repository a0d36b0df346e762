package dev.pdserve.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;

import java.nio.file.Path;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * DJL's wrapper around the Rust tokenizers library, set up for a server: no truncation or padding
 * (DJL truncates to 512 tokens by default), no telemetry call to the EC2 metadata service, and no GPU
 * probing noise in the log. The native library ships inside the DJL jar and is extracted once to
 * {@code ~/.djl.ai/tokenizers} (or {@code $DJL_CACHE_DIR}); nothing is downloaded.
 */
final class NativeTokenizers {
    // Kept in fields: java.util.logging holds loggers weakly, so a level set on a dropped logger is lost.
    private static final Logger CUDA_PROBE_LOG = Logger.getLogger("ai.djl.util.cuda.CudaUtils");
    private static final Logger PLATFORM_LOG = Logger.getLogger("ai.djl.util.Platform");

    static {
        // DJL "calls home" (an HTTP request to 169.254.169.254) on every tokenizer it creates unless opted out.
        if (System.getenv("OPT_OUT_TRACKING") == null) System.setProperty("OPT_OUT_TRACKING", "true");
        CUDA_PROBE_LOG.setLevel(Level.SEVERE);
        PLATFORM_LOG.setLevel(Level.WARNING);
    }

    private static final Map<String, String> OPTIONS = Map.of(
            "addSpecialTokens", "true", "truncation", "false", "padding", "false", "withOverflowingTokens", "false");

    private NativeTokenizers() {}

    static HuggingFaceTokenizer open(Path tokenizerJson) {
        try {
            return HuggingFaceTokenizer.newInstance(tokenizerJson, OPTIONS);
        } catch (Exception | UnsatisfiedLinkError e) {
            throw new TokenizerException("the Hugging Face tokenizers library cannot load " + tokenizerJson + ": " + e.getMessage(), e);
        }
    }

    /**
     * Only the ids: DJL's {@code encode} also copies tokens, offsets and masks over JNI, which costs a
     * third more (625-token prompt: 0.43 ms instead of 0.60 ms).
     */
    static long[] encode(HuggingFaceTokenizer tokenizer, String text, boolean addSpecialTokens) {
        long encoding = TokenizersLibrary.LIB.encode(tokenizer.getHandle(), withoutLoneSurrogates(text), addSpecialTokens);
        try {
            return TokenizersLibrary.LIB.getTokenIds(encoding);
        } finally {
            TokenizersLibrary.LIB.deleteEncoding(encoding);
        }
    }

    /**
     * A lone UTF-16 surrogate (JSON allows "\\ud800") is not text; JNI would hand Rust a string it
     * cannot read, and the lossy fallback mangles the rest of the prompt (a NUL became two U+FFFD).
     * Each lone surrogate becomes one U+FFFD instead; valid strings pass through without copying.
     */
    static String withoutLoneSurrogates(String text) {
        StringBuilder fixed = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1));
            if (pair) {
                if (fixed != null) fixed.append(c).append(text.charAt(i + 1));
                i++;
            } else if (Character.isSurrogate(c)) {
                if (fixed == null) fixed = new StringBuilder(text.length()).append(text, 0, i);
                fixed.append('\uFFFD');
            } else if (fixed != null) {
                fixed.append(c);
            }
        }
        return fixed == null ? text : fixed.toString();
    }
}
