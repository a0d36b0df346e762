package dev.pdserve.kv;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * What a lease is bound to: SHA-256 over the model fingerprint and the prompt's token ids. The
 * producer keeps it with the lease; a consumer sends the hash of its own prompt in PULL and RELEASE,
 * so another request's {@code kv_transfer_params} with a different prompt cannot pull or free the KV.
 */
final class PromptHash {
    static final int BYTES = 32;

    private PromptHash() {}

    static byte[] of(String modelFingerprint, int[] promptTokens) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update("pdserve-kv-prompt-v1\0".getBytes(StandardCharsets.UTF_8));
            d.update(modelFingerprint.getBytes(StandardCharsets.UTF_8));
            ByteBuffer b = ByteBuffer.allocate(4 + 4 * promptTokens.length);
            b.putInt(promptTokens.length);
            for (int t : promptTokens) b.putInt(t);
            d.update(b.array());
            return d.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 unavailable", e);
        }
    }
}
