package dev.pdserve.bench;

/** vLLM's --backend names for the OpenAI-compatible APIs: which endpoint and which request body. */
public enum Backend {
    OPENAI("openai", "/v1/completions", false),
    VLLM("vllm", "/v1/completions", false),
    OPENAI_CHAT("openai-chat", "/v1/chat/completions", true);

    public final String cliName;
    public final String defaultEndpoint;
    public final boolean chat;

    Backend(String cliName, String defaultEndpoint, boolean chat) {
        this.cliName = cliName;
        this.defaultEndpoint = defaultEndpoint;
        this.chat = chat;
    }

    public static Backend parse(String name) {
        for (Backend b : values()) if (b.cliName.equals(name)) return b;
        throw new IllegalArgumentException("unknown --backend '" + name + "' (use openai, openai-chat or vllm)");
    }
}
