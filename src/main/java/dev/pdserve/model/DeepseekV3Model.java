package dev.pdserve.model;

import dev.pdserve.kernels.KvLayouts;
import dev.pdserve.kernels.Matrix;
import dev.pdserve.kernels.Ops;
import dev.pdserve.kernels.WorkerPool;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * DeepSeek-V3: multi-head latent attention (MLA) and a mixture of experts.
 *
 * <p>The KV cache keeps, per token and layer, the normalised latent {@code c} (kv_lora_rank) and
 * the rotated shared key {@code k_pe} (qk_rope_head_dim), nothing decompressed. Attention runs in
 * the absorbed form for prefill and decode alike: the no-rope query of each head is folded through
 * that head's K slice of {@code kv_b_proj} into latent space, scores are {@code q_lat.c + q_pe.k_pe},
 * the softmax-weighted latent is expanded through the head's V slice. It is the same sum as
 * transformers' decompressed form, reassociated.
 */
final class DeepseekV3Model extends DecoderModel {
    private final ModelConfig.Mla mla;
    private final ModelConfig.Moe moe;
    private final int heads, nope, ropeDim, vDim, rank, qHeadDim;
    private final float scale;
    private final Rope rope;
    private final Matrix[] qA, qB, qFull, kvA, kvB, o;
    private final float[][] qANorm, kvANorm;
    private final DenseMlp[] dense, shared;
    private final Matrix[] router;
    private final float[][] routerBias;
    private final DenseMlp[][] experts;
    private final LatentAttention attentionJob = new LatentAttention();
    private float[] qaBuf = new float[0], qBuf = new float[0], kvaBuf = new float[0];
    private float[] gateBuf = new float[0], upBuf = new float[0], expertIn = new float[0], expertOut = new float[0], routerLogits = new float[0];
    private int[] chosen = new int[0];
    private float[] chosenWeight = new float[0];
    private int[] expertTokens = new int[0];
    private final float[] routeBiased, routeGroupScore;
    private final boolean[] routeKeepGroup, routeTaken;

    DeepseekV3Model(ModelConfig c, Weights w, WorkerPool pool, boolean ownsPool) {
        super(c, w, pool, ownsPool);
        mla = c.mla();
        moe = c.moe();
        heads = c.numHeads();
        nope = mla.qkNopeHeadDim();
        ropeDim = mla.qkRopeHeadDim();
        vDim = mla.vHeadDim();
        rank = mla.kvLoraRank();
        qHeadDim = mla.qkHeadDim();
        double s = 1.0 / Math.sqrt(qHeadDim);
        if (c.rope().type().equals("yarn") && c.rope().mscaleAllDim() != 0) {
            double m = RopeConfig.yarnMscale(c.rope().factor(), c.rope().mscaleAllDim());
            s *= m * m;
        }
        scale = (float) s;
        rope = new Rope(c.rope(), ropeDim, mla.ropeInterleave(), c.maxPositionEmbeddings());
        routeBiased = new float[Math.max(1, moe.nRoutedExperts())];
        routeTaken = new boolean[routeBiased.length];
        routeGroupScore = new float[Math.max(1, moe.nGroup())];
        routeKeepGroup = new boolean[routeGroupScore.length];
        int n = c.numLayers();
        qA = new Matrix[n]; qB = new Matrix[n]; qFull = new Matrix[n]; kvA = new Matrix[n]; kvB = new Matrix[n]; o = new Matrix[n];
        qANorm = new float[n][]; kvANorm = new float[n][];
        dense = new DenseMlp[n]; shared = new DenseMlp[n]; router = new Matrix[n]; routerBias = new float[n][];
        experts = new DenseMlp[n][];
        for (int l = 0; l < n; l++) {
            String a = layer(l) + "self_attn.";
            if (mla.qLoraRank() > 0) {
                qA[l] = w.linear(a + "q_a_proj.weight", mla.qLoraRank(), hidden);
                qANorm[l] = w.vector(a + "q_a_layernorm.weight", mla.qLoraRank());
                qB[l] = w.linear(a + "q_b_proj.weight", heads * qHeadDim, mla.qLoraRank());
            } else {
                qFull[l] = w.linear(a + "q_proj.weight", heads * qHeadDim, hidden);
            }
            kvA[l] = w.linear(a + "kv_a_proj_with_mqa.weight", rank + ropeDim, hidden);
            kvANorm[l] = w.vector(a + "kv_a_layernorm.weight", rank);
            kvB[l] = w.rowMatrix(a + "kv_b_proj.weight", heads * (nope + vDim), rank);
            o[l] = w.linear(a + "o_proj.weight", hidden, heads * vDim);
            String m = layer(l) + "mlp.";
            if (moe.isMoeLayer(l)) {
                router[l] = w.matrix(m + "gate.weight", moe.nRoutedExperts(), hidden);
                routerBias[l] = w.optionalVector(m + "gate.e_score_correction_bias", moe.nRoutedExperts());
                experts[l] = new DenseMlp[moe.nRoutedExperts()];
                for (int e = 0; e < moe.nRoutedExperts(); e++) {
                    experts[l][e] = DenseMlp.load(w, m + "experts." + e + ".", hidden, moe.moeIntermediateSize());
                }
                if (moe.nSharedExperts() > 0) {
                    shared[l] = DenseMlp.load(w, m + "shared_experts.", hidden, moe.moeIntermediateSize() * moe.nSharedExperts());
                }
            } else {
                dense[l] = DenseMlp.load(w, m, hidden, c.intermediateSize());
            }
        }
    }

    @Override public int kvEntryFloats() { return rank + ropeDim; }

    @Override public String kvLayout() { return "mla-latent" + rank + "-rope" + ropeDim + "-f32"; }

    @Override
    protected void ensureScratch(int tokens) {
        qaBuf = new float[tokens * Math.max(1, mla.qLoraRank())];
        qBuf = new float[tokens * heads * qHeadDim];
        kvaBuf = new float[tokens * (rank + ropeDim)];
        int inter = Math.max(config.intermediateSize(), moe.moeIntermediateSize() * Math.max(1, moe.nSharedExperts()));
        gateBuf = new float[tokens * inter];
        upBuf = new float[tokens * inter];
        expertIn = new float[tokens * hidden];
        expertOut = new float[tokens * hidden];
        routerLogits = new float[tokens * Math.max(1, moe.nRoutedExperts())];
        chosen = new int[tokens * Math.max(1, moe.numExpertsPerTok())];
        chosenWeight = new float[chosen.length];
        expertTokens = new int[chosen.length];
        attnOut = new float[Math.max(attnOut.length, tokens * Math.max(hidden, heads * vDim))];
    }

    @Override
    protected void attention(int l, ForwardBatch batch, KvCache cache) {
        int t = batch.numTokens;
        float eps = (float) config.rmsNormEps();
        if (qA[l] != null) {
            int qr = mla.qLoraRank();
            matmul.run(qA[l], normed, t, qaBuf);
            for (int i = 0; i < t; i++) Ops.rmsNorm(qaBuf, i * qr, qANorm[l], eps, qaBuf, i * qr, qr);
            matmul.run(qB[l], qaBuf, t, qBuf);
        } else {
            matmul.run(qFull[l], normed, t, qBuf);
        }
        matmul.run(kvA[l], normed, t, kvaBuf);
        MemorySegment layerKv = cache.layer(l);
        int entry = rank + ropeDim;
        for (int i = 0; i < t; i++) {
            int pos = batch.positions[i];
            Ops.rmsNorm(kvaBuf, i * entry, kvANorm[l], eps, kvaBuf, i * entry, rank);
            rope.apply(kvaBuf, i * entry + rank, pos);
            for (int h = 0; h < heads; h++) rope.apply(qBuf, (i * heads + h) * qHeadDim + nope, pos);
            MemorySegment.copy(kvaBuf, i * entry, layerKv, KvLayouts.F32, 4L * entry * batch.slots[i], entry);
        }
        attentionJob.kvB = kvB[l];
        attendAndProject(attentionJob, batch, cache, l, heads, o[l]);
    }

    @Override
    protected void mlp(int l, int tokens) {
        if (dense[l] != null) {
            dense[l].run(matmul, siluMul, normed, tokens, gateBuf, upBuf, mlpOut);
            return;
        }
        route(l, tokens);
        Arrays.fill(mlpOut, 0, tokens * hidden, 0f);
        int k = moe.numExpertsPerTok();
        // Each expert runs once over the tokens routed to it, so its weights are read once per step.
        for (int e = 0; e < experts[l].length; e++) {
            int count = 0;
            for (int i = 0; i < tokens * k; i++) {
                if (chosen[i] == e) {
                    System.arraycopy(normed, (i / k) * hidden, expertIn, count * hidden, hidden);
                    expertTokens[count++] = i;
                }
            }
            if (count == 0) continue;
            experts[l][e].run(matmul, siluMul, expertIn, count, gateBuf, upBuf, expertOut);
            for (int c = 0; c < count; c++) {
                int i = expertTokens[c];
                Ops.addScaled(mlpOut, (i / k) * hidden, expertOut, c * hidden, chosenWeight[i], hidden);
            }
        }
        if (shared[l] != null) {
            shared[l].run(matmul, siluMul, normed, tokens, gateBuf, upBuf, expertOut);
            Ops.add(mlpOut, 0, expertOut, 0, tokens * hidden);
        }
    }

    /**
     * DeepSeek-V3's router (noaux_tc): sigmoid scores; the correction bias only steers the choice.
     * Keep the topk_group groups whose two best biased scores sum highest, take the top-k experts
     * inside them (masked experts score 0, as transformers' masked_fill does), weight by the
     * unbiased scores, normalise, scale.
     */
    private void route(int l, int tokens) {
        int e = moe.nRoutedExperts(), k = moe.numExpertsPerTok(), groups = moe.nGroup(), perGroup = e / groups;
        matmul.run(router[l], normed, tokens, routerLogits);
        float[] biased = routeBiased, groupScore = routeGroupScore;
        boolean[] keepGroup = routeKeepGroup, taken = routeTaken;
        boolean sigmoid = moe.scoringFunc().equals("sigmoid");
        for (int i = 0; i < tokens; i++) {
            int off = i * e;
            if (sigmoid) {
                for (int x = 0; x < e; x++) routerLogits[off + x] = (float) (1.0 / (1.0 + Math.exp(-routerLogits[off + x])));
            } else {
                Ops.softmax(routerLogits, off, e);
            }
            for (int x = 0; x < e; x++) biased[x] = routerLogits[off + x] + (routerBias[l] == null ? 0f : routerBias[l][x]);
            Arrays.fill(keepGroup, groups <= 1);
            if (groups > 1) {
                for (int g = 0; g < groups; g++) {
                    float best = Float.NEGATIVE_INFINITY, second = Float.NEGATIVE_INFINITY;
                    for (int x = g * perGroup; x < (g + 1) * perGroup; x++) {
                        if (biased[x] > best) { second = best; best = biased[x]; } else if (biased[x] > second) second = biased[x];
                    }
                    groupScore[g] = perGroup >= 2 ? best + second : best;
                }
                for (int pick = 0; pick < moe.topkGroup(); pick++) {
                    int bestG = -1;
                    for (int g = 0; g < groups; g++) if (!keepGroup[g] && (bestG < 0 || groupScore[g] > groupScore[bestG])) bestG = g;
                    keepGroup[bestG] = true;
                }
                for (int x = 0; x < e; x++) if (!keepGroup[x / perGroup]) biased[x] = 0f;
            }
            Arrays.fill(taken, false);
            float sum = 0;
            for (int pick = 0; pick < k; pick++) {
                int best = -1;
                for (int x = 0; x < e; x++) if (!taken[x] && (best < 0 || biased[x] > biased[best])) best = x;
                taken[best] = true;
                chosen[i * k + pick] = best;
                chosenWeight[i * k + pick] = routerLogits[off + best];
                sum += routerLogits[off + best];
            }
            float norm = moe.normTopkProb() && k > 1 ? 1f / (sum + 1e-20f) : 1f;
            for (int pick = 0; pick < k; pick++) chosenWeight[i * k + pick] *= norm * (float) moe.routedScalingFactor();
        }
    }

    /** One (token, head) pair per index, in latent space; see the class comment. */
    private final class LatentAttention extends AttentionJob {
        Matrix kvB;
        private final float[][] scores = new float[pool.threads()][];
        private final float[][] qLat = new float[pool.threads()][];
        private final float[][] oLat = new float[pool.threads()][];
        private final long[][] rows = new long[pool.threads()][];

        @Override
        public void run(int from, int to, int worker) {
            int maxCtx = 1;
            for (int s = 0; s < batch.numSeqs; s++) maxCtx = Math.max(maxCtx, batch.contextLen[s]);
            if (scores[worker] == null || scores[worker].length < maxCtx) {
                scores[worker] = new float[Math.max(maxCtx, 256)];
                rows[worker] = new long[scores[worker].length];
            }
            if (qLat[worker] == null) { qLat[worker] = new float[rank]; oLat[worker] = new float[rank]; }
            float[] sc = scores[worker], ql = qLat[worker], ol = oLat[worker];
            long[] latentRows = rows[worker];
            long entryBytes = 4L * (rank + ropeDim);
            for (int idx = from; idx < to; idx++) {
                int i = idx / heads, h = idx % heads;
                int qOff = (i * heads + h) * qHeadDim;
                int kRow = h * (nope + vDim);
                Arrays.fill(ql, 0f);
                for (int d = 0; d < nope; d++) kvB.addScaledRow(kRow + d, qBuf[qOff + d], ql, 0);
                int[] table = batch.blockTables[tokenSeq[i]];
                int ctx = batch.positions[i] + 1;
                for (int j = 0; j < ctx; j++) {
                    long at = slot(table, j) * entryBytes;
                    sc[j] = (Ops.dot(ql, 0, kv, at, rank) + Ops.dot(qBuf, qOff + nope, kv, at + 4L * rank, ropeDim)) * scale;
                    latentRows[j] = at;
                }
                Ops.softmax(sc, 0, ctx);
                Ops.weightedRows(ol, 0, sc, latentRows, ctx, kv, rank);
                int outOff = i * heads * vDim + h * vDim;
                for (int d = 0; d < vDim; d++) attnOut[outOff + d] = kvB.dotRow(kRow + nope + d, ol, 0);
            }
        }
    }
}
