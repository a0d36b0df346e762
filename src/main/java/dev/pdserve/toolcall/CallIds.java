package dev.pdserve.toolcall;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/** Tool call ids in vLLM's two shapes: {@code chatcmpl-tool-<32 hex>} and Mistral's 9 letters and digits. */
final class CallIds {
    private static final String ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private CallIds() {}

    static String openAi() { return "chatcmpl-tool-" + UUID.randomUUID().toString().replace("-", ""); }

    static String mistral() {
        StringBuilder b = new StringBuilder(9);
        for (int i = 0; i < 9; i++) b.append(ALNUM.charAt(ThreadLocalRandom.current().nextInt(ALNUM.length())));
        return b.toString();
    }
}
