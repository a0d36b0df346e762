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
    private boolean quantized;
    private int align = 1;
    private float[] xq = new float[0];
    private float[] xScale = new float[0];
    private float[] xSum = new float[0];

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
        this.quantized = w.wantsInt8Input();
        if (quantized) {
            // Activations are quantized once per call, before the rows are split over threads.
            if (xq.length < tokens * w.cols()) xq = new float[tokens * w.cols()];
            if (xScale.length < tokens) { xScale = new float[tokens]; xSum = new float[tokens]; }
            w.quantizeInput(x, tokens, xq, xScale, xSum);
        }
        // Enough rows per chunk that a chunk is worth a dispatch (~32K multiply-adds).
        align = w.rowAlign();
        int grain = Math.max(1, (32 * 1024) / Math.max(1, w.cols() * tokens * align));
        pool.run(this, (w.rows() + align - 1) / align, grain);
        this.w = null;
        this.x = null;
        this.out = null;
    }

    @Override
    public void run(int from, int to, int worker) {
        int r0 = from * align, r1 = Math.min(w.rows(), to * align); // the pool splits blocks of rowAlign rows
        if (quantized) w.multiplyQuantized(xq, xScale, xSum, tokens, out, outStride, r0, r1);
        else w.multiply(x, tokens, out, outStride, r0, r1);
    }
}
