package dev.pdserve.model;

/**
 * A decoder-only language model: one forward over a batch of token spans from many sequences,
 * writing their attention state into a {@link KvCache} and producing next-token logits.
 */
public interface CausalLM extends AutoCloseable {
    ModelConfig config();

    int numLayers();

    int vocabSize();

    /** fp32 values cached per token and layer: the MLA latent (kv_lora_rank + rope dim) or K and V. */
    int kvEntryFloats();

    /** Names the cache layout so two instances can check they agree, e.g. {@code mla-latent-80} or {@code gqa-k2x32-v2x32}. */
    String kvLayout();

    /**
     * Runs the batch. For every sequence, in sequence order, writes {@code vocabSize()} logits
     * for each of its last {@code logitRows} tokens into {@code logits} (row after row).
     */
    void forward(ForwardBatch batch, KvCache cache, float[] logits);

    /** Bytes of weights held in memory (after any load-time quantization). */
    long weightBytes();

    @Override
    void close();
}
