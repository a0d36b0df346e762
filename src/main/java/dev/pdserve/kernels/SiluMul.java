package dev.pdserve.kernels;

/**
 * {@link Ops#siluMul} split over the worker pool. At batch 32 a 1B model's MLP activation is 262K
 * exponentials per layer, about 2 ms on one thread; elementwise, so the bits are the same however
 * it is split. One instance per model: a reusable job (dispatch allocates nothing).
 */
public final class SiluMul implements WorkerPool.Job {
    private final WorkerPool pool;
    private float[] gate;
    private float[] up;

    public SiluMul(WorkerPool pool) { this.pool = pool; }

    /** {@code gate[i] = silu(gate[i]) * up[i]} for i in [0, n). */
    public void run(float[] gate, float[] up, int n) {
        this.gate = gate;
        this.up = up;
        pool.run(this, n, 4096);
        this.gate = null;
        this.up = null;
    }

    @Override
    public void run(int from, int to, int worker) {
        Ops.siluMul(gate, from, up, from, to - from);
    }
}
