package dev.pdserve.kernels;

/**
 * {@code out[T x N] = x[T x K] . W[N x K]^T}, split by weight rows over the worker pool so every
 * weight row is read once per call whatever the batch size. One instance per model: it is a
 * reusable job (dispatch allocates nothing).
 */
public final class MatMul implements WorkerPool.Job {
    private final WorkerPool pool;
    private Matrix w;
    private float[] x;
    private float[] out;
    private int tokens;
    private int outStride;

    public MatMul(WorkerPool pool) { this.pool = pool; }

    public void run(Matrix w, float[] x, int tokens, float[] out) {
        run(w, x, tokens, out, w.rows());
    }

    /** As {@link #run(Matrix, float[], int, float[])} with output rows {@code outStride} apart. */
    public void run(Matrix w, float[] x, int tokens, float[] out, int outStride) {
        this.w = w;
        this.x = x;
        this.tokens = tokens;
        this.out = out;
        this.outStride = outStride;
        // Enough rows per chunk that a chunk is worth a dispatch (~32K multiply-adds).
        int grain = Math.max(1, (32 * 1024) / Math.max(1, w.cols() * tokens));
        pool.run(this, w.rows(), grain);
        this.w = null;
        this.x = null;
        this.out = null;
    }

    @Override
    public void run(int from, int to, int worker) {
        w.multiply(x, tokens, out, outStride, from, to);
    }
}
