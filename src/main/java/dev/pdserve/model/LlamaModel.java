package dev.pdserve.model;

import dev.pdserve.kernels.KvLayouts;
import dev.pdserve.kernels.Matrix;
import dev.pdserve.kernels.Ops;
import dev.pdserve.kernels.WorkerPool;

import java.lang.foreign.MemorySegment;

/**
 * Llama (also Mistral and Qwen2, the same graph plus q/k/v bias or a sliding window): grouped
 * query attention with rotate-half RoPE, SwiGLU MLP. The KV cache holds, per token and layer,
 * K for every KV head then V for every KV head.
 */
final class LlamaModel extends DecoderModel {
    private final int heads, kvHeads, headDim, slidingWindow;
    private final float scale;
    private final Rope rope;
    private final Matrix[] q, k, v, o;
    private final float[][] qBias, kBias, vBias;
    private final DenseMlp[] mlp;
    private final GroupedAttention attentionJob = new GroupedAttention();
    private float[] qBuf = new float[0], kBuf = new float[0], vBuf = new float[0], gateBuf = new float[0], upBuf = new float[0];

    LlamaModel(ModelConfig c, Weights w, WorkerPool pool, boolean ownsPool, int slidingWindow) {
        super(c, w, pool, ownsPool);
        heads = c.numHeads();
        kvHeads = c.numKvHeads();
        headDim = c.headDim();
        this.slidingWindow = slidingWindow;
        if (heads % kvHeads != 0) throw new ModelLoadException("num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        scale = (float) (1.0 / Math.sqrt(headDim));
        rope = new Rope(c.rope(), headDim, false, c.maxPositionEmbeddings());
        int n = c.numLayers();
        q = new Matrix[n]; k = new Matrix[n]; v = new Matrix[n]; o = new Matrix[n];
        qBias = new float[n][]; kBias = new float[n][]; vBias = new float[n][];
        mlp = new DenseMlp[n];
        for (int l = 0; l < n; l++) {
            String a = layer(l) + "self_attn.";
            q[l] = w.linear(a + "q_proj.weight", heads * headDim, hidden);
            k[l] = w.linear(a + "k_proj.weight", kvHeads * headDim, hidden);
            v[l] = w.linear(a + "v_proj.weight", kvHeads * headDim, hidden);
            o[l] = w.linear(a + "o_proj.weight", hidden, heads * headDim);
            qBias[l] = w.optionalVector(a + "q_proj.bias", heads * headDim);
            kBias[l] = w.optionalVector(a + "k_proj.bias", kvHeads * headDim);
            vBias[l] = w.optionalVector(a + "v_proj.bias", kvHeads * headDim);
            mlp[l] = DenseMlp.load(w, layer(l) + "mlp.", hidden, c.intermediateSize());
        }
    }

    @Override public int kvEntryFloats() { return 2 * kvHeads * headDim; }

    @Override public String kvLayout() { return "gqa-k" + kvHeads + "x" + headDim + "-v" + kvHeads + "x" + headDim + "-f32"; }

    @Override
    protected void ensureScratch(int tokens) {
        qBuf = new float[tokens * heads * headDim];
        kBuf = new float[tokens * kvHeads * headDim];
        vBuf = new float[tokens * kvHeads * headDim];
        gateBuf = new float[tokens * config.intermediateSize()];
        upBuf = new float[tokens * config.intermediateSize()];
        attnOut = new float[Math.max(attnOut.length, tokens * Math.max(hidden, heads * headDim))];
    }

    @Override
    protected void attention(int l, ForwardBatch batch, KvCache cache) {
        int t = batch.numTokens, qw = heads * headDim, kw = kvHeads * headDim;
        matmul.run(q[l], normed, t, qBuf);
        matmul.run(k[l], normed, t, kBuf);
        matmul.run(v[l], normed, t, vBuf);
        MemorySegment layerKv = cache.layer(l);
        long entryBytes = 4L * kvEntryFloats();
        for (int i = 0; i < t; i++) {
            if (qBias[l] != null) Ops.add(qBuf, i * qw, qBias[l], 0, qw);
            if (kBias[l] != null) Ops.add(kBuf, i * kw, kBias[l], 0, kw);
            if (vBias[l] != null) Ops.add(vBuf, i * kw, vBias[l], 0, kw);
            int pos = batch.positions[i];
            for (int h = 0; h < heads; h++) rope.apply(qBuf, i * qw + h * headDim, pos);
            for (int h = 0; h < kvHeads; h++) rope.apply(kBuf, i * kw + h * headDim, pos);
            long slot = batch.slots[i] * entryBytes;
            MemorySegment.copy(kBuf, i * kw, layerKv, KvLayouts.F32, slot, kw);
            MemorySegment.copy(vBuf, i * kw, layerKv, KvLayouts.F32, slot + 4L * kw, kw);
        }
        attendAndProject(attentionJob, batch, cache, l, heads, o[l]);
    }

    @Override
    protected void mlp(int l, int tokens) {
        mlp[l].run(matmul, siluMul, normed, tokens, gateBuf, upBuf, mlpOut);
    }

    /** One (token, head) pair per index: softmax(q . K) . V over the sequence's cached positions. */
    private final class GroupedAttention extends AttentionJob {
        private final float[][] scores = new float[pool.threads()][];
        private final long[][] rows = new long[pool.threads()][];

        @Override
        public void run(int from, int to, int worker) {
            float[] sc = scratch(worker, batch.positions.length == 0 ? 1 : maxContext());
            long[] valueRows = rows[worker];
            int qw = heads * headDim, kw = kvHeads * headDim, group = heads / kvHeads;
            long entryBytes = 4L * 2 * kw;
            for (int idx = from; idx < to; idx++) {
                int i = idx / heads, h = idx % heads, kvh = h / group;
                int[] table = batch.blockTables[tokenSeq[i]];
                int ctx = batch.positions[i] + 1;
                int start = slidingWindow > 0 ? Math.max(0, ctx - slidingWindow) : 0;
                int qOff = i * qw + h * headDim;
                for (int j = start; j < ctx; j++) {
                    long entry = slot(table, j) * entryBytes;
                    sc[j - start] = Ops.dot(qBuf, qOff, kv, entry + 4L * kvh * headDim, headDim) * scale;
                    valueRows[j - start] = entry + 4L * (kw + kvh * headDim);
                }
                Ops.softmax(sc, 0, ctx - start);
                Ops.weightedRows(attnOut, i * qw + h * headDim, sc, valueRows, ctx - start, kv, headDim);
            }
        }

        private int maxContext() {
            int max = 1;
            for (int s = 0; s < batch.numSeqs; s++) max = Math.max(max, batch.contextLen[s]);
            return max;
        }

        private float[] scratch(int worker, int n) {
            float[] s = scores[worker];
            if (s == null || s.length < n) {
                scores[worker] = s = new float[Math.max(n, 256)];
                rows[worker] = new long[s.length];
            }
            return s;
        }
    }
}
