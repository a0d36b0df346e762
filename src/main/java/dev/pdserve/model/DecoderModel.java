package dev.pdserve.model;

import dev.pdserve.kernels.MatMul;
import dev.pdserve.kernels.Matrix;
import dev.pdserve.kernels.Ops;
import dev.pdserve.kernels.SiluMul;
import dev.pdserve.kernels.WorkerPool;

import java.lang.foreign.MemorySegment;

/**
 * The part every decoder-only transformer shares: embed, for each layer pre-norm attention and
 * pre-norm MLP with residuals, final norm, and the LM head on the rows that want logits.
 * Subclasses supply attention and MLP as plain methods over flat [tokens x width] arrays.
 * Not thread-safe: one forward at a time (the engine's step loop).
 */
abstract class DecoderModel implements CausalLM {
    protected final ModelConfig config;
    protected final Weights weights;
    protected final WorkerPool pool;
    protected final boolean ownsPool;
    protected final MatMul matmul;
    protected final SiluMul siluMul;
    protected final int hidden;
    private final Matrix embed;
    private final Matrix lmHead;
    private final float[] finalNorm;
    private final float[][] inputNorm;
    private final float[][] postAttentionNorm;

    /** Activations, grown to the largest batch seen and then reused. */
    protected float[] residual = new float[0];
    protected float[] normed = new float[0];
    protected float[] attnOut = new float[0];
    protected float[] mlpOut = new float[0];
    protected int[] tokenSeq = new int[0];
    private float[] lastRows = new float[0];

    DecoderModel(ModelConfig config, Weights weights, WorkerPool pool, boolean ownsPool) {
        this.config = config;
        this.weights = weights;
        this.pool = pool;
        this.ownsPool = ownsPool;
        this.matmul = new MatMul(pool);
        this.siluMul = new SiluMul(pool);
        this.hidden = config.hiddenSize();
        int v = config.vocabSize();
        this.embed = weights.rowMatrix("model.embed_tokens.weight", v, hidden);
        this.lmHead = config.tieWordEmbeddings() && !weights.has("lm_head.weight") ? embed : weights.matrix("lm_head.weight", v, hidden);
        this.finalNorm = weights.vector("model.norm.weight", hidden);
        int n = config.numLayers();
        inputNorm = new float[n][];
        postAttentionNorm = new float[n][];
        for (int l = 0; l < n; l++) {
            inputNorm[l] = weights.vector(layer(l) + "input_layernorm.weight", hidden);
            postAttentionNorm[l] = weights.vector(layer(l) + "post_attention_layernorm.weight", hidden);
        }
    }

    static String layer(int l) { return "model.layers." + l + "."; }

    @Override public ModelConfig config() { return config; }
    @Override public int numLayers() { return config.numLayers(); }
    @Override public int vocabSize() { return config.vocabSize(); }

    /** Names of the projections W8A8 quantizes (everything but embeddings, norms, router, lm_head, kv_b_proj). */
    java.util.Set<String> linearWeightNames() { return weights.linearNames(); }

    /** Bytes of weights read by one decode step (every matrix once). */
    @Override
    public long weightBytes() { return weights.bytes(); }

    /** Attention of layer {@code l} over {@code normed} into {@code attnOut} (tokens x hidden); writes the KV cache. */
    protected abstract void attention(int l, ForwardBatch batch, KvCache cache);

    /** Feed-forward of layer {@code l} over {@code normed} into {@code mlpOut} (tokens x hidden). */
    protected abstract void mlp(int l, int tokens);

    /** Grows per-architecture scratch for {@code tokens} tokens. */
    protected abstract void ensureScratch(int tokens);

    @Override
    public void forward(ForwardBatch batch, KvCache cache, float[] logits) {
        int t = batch.numTokens;
        if (cache.entryFloats() != kvEntryFloats()) {
            throw new IllegalArgumentException("KV cache holds " + cache.entryFloats() + " floats per token, model needs " + kvEntryFloats());
        }
        ensure(t);
        for (int s = 0; s < batch.numSeqs; s++) {
            for (int i = batch.seqStart[s]; i < batch.seqStart[s + 1]; i++) tokenSeq[i] = s;
        }
        for (int i = 0; i < t; i++) {
            int id = batch.tokenIds[i];
            if (id < 0 || id >= config.vocabSize()) throw new IllegalArgumentException("token id " + id + " outside the vocabulary [0, " + config.vocabSize() + ")");
            embed.copyRow(id, residual, i * hidden);
        }
        float eps = (float) config.rmsNormEps();
        for (int l = 0; l < config.numLayers(); l++) {
            for (int i = 0; i < t; i++) Ops.rmsNorm(residual, i * hidden, inputNorm[l], eps, normed, i * hidden, hidden);
            attention(l, batch, cache);
            Ops.add(residual, 0, attnOut, 0, t * hidden);
            for (int i = 0; i < t; i++) Ops.rmsNorm(residual, i * hidden, postAttentionNorm[l], eps, normed, i * hidden, hidden);
            mlp(l, t);
            Ops.add(residual, 0, mlpOut, 0, t * hidden);
        }
        int rows = 0;
        for (int s = 0; s < batch.numSeqs; s++) {
            int end = batch.seqStart[s + 1];
            for (int tok = end - batch.logitRows[s]; tok < end; tok++) {
                Ops.rmsNorm(residual, tok * hidden, finalNorm, eps, lastRows, rows * hidden, hidden);
                rows++;
            }
        }
        if (rows > 0) matmul.run(lmHead, lastRows, rows, logits);
    }

    private void ensure(int tokens) {
        if (residual.length >= tokens * hidden) return;
        int cap = Math.max(tokens, 2 * residual.length / hidden);
        residual = new float[cap * hidden];
        normed = new float[cap * hidden];
        attnOut = new float[cap * hidden];
        mlpOut = new float[cap * hidden];
        lastRows = new float[cap * hidden];
        tokenSeq = new int[cap];
        ensureScratch(cap);
    }

    /** Attention over the KV cache, one (token, head) pair per index; subclasses hold the per-layer weights. */
    abstract static class AttentionJob implements WorkerPool.Job {
        ForwardBatch batch;
        MemorySegment kv;
        int blockSize;

        /** Cache slot of position {@code pos} in a sequence with this block table. */
        final long slot(int[] table, int pos) {
            return (long) table[pos / blockSize] * blockSize + pos % blockSize;
        }
    }

    /** Runs {@code job} over every (token, head) of the batch, then the output projection into {@code attnOut}. */
    protected void attendAndProject(AttentionJob job, ForwardBatch batch, KvCache cache, int l, int heads, Matrix outProj) {
        job.batch = batch;
        job.kv = cache.layer(l);
        job.blockSize = cache.blockSize();
        pool.run(job, batch.numTokens * heads, 1);
        job.batch = null;
        job.kv = null;
        matmul.run(outProj, attnOut, batch.numTokens, mlpOut);
        System.arraycopy(mlpOut, 0, attnOut, 0, batch.numTokens * hidden);
    }

    /** A dense SwiGLU MLP: down(silu(gate(x)) * up(x)). */
    record DenseMlp(Matrix gate, Matrix up, Matrix down) {
        static DenseMlp load(Weights w, String prefix, int hidden, int inter) {
            return new DenseMlp(w.linear(prefix + "gate_proj.weight", inter, hidden),
                    w.linear(prefix + "up_proj.weight", inter, hidden),
                    w.linear(prefix + "down_proj.weight", hidden, inter));
        }

        int intermediate() { return gate.rows(); }

        void run(MatMul mm, SiluMul silu, float[] x, int tokens, float[] gateBuf, float[] upBuf, float[] out) {
            mm.run(gate, x, tokens, gateBuf);
            mm.run(up, x, tokens, upBuf);
            silu.run(gateBuf, upBuf, tokens * gate.rows());
            mm.run(down, gateBuf, tokens, out);
        }
    }

    @Override
    public void close() {
        if (ownsPool) pool.close();
        weights.close();
    }
}
