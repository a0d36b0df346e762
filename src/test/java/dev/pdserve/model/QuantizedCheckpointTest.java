package dev.pdserve.model;

import dev.pdserve.TestModels;
import dev.pdserve.kernels.Int8Matrix;
import dev.pdserve.kernels.Int8Rows;
import dev.pdserve.kernels.MatMul;
import dev.pdserve.kernels.WorkerPool;
import dev.pdserve.model.checkpoint.CheckpointQuantizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** `pdserve quantize` output: W8A8 loads to exactly quantize-on-load, FP8 stays close to bf16. */
class QuantizedCheckpointTest {
    @TempDir Path tmp;

    private static float[] lastLogits(CausalLM model, int[] ids) {
        try (SingleSequence seq = new SingleSequence(model, ids.length)) {
            return seq.feed(ids).clone();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void w8a8CheckpointGivesExactlyTheLogitsOfQuantizingOnLoad(String name) throws IOException {
        Path src = BothGoldenModels.dir(name), out = tmp.resolve(name + "-w8a8");
        CheckpointQuantizer.quantize(src, out, "w8a8_dynamic");
        assertThat(out.resolve(QuantDescription.FILE)).exists();
        assertThat(out.resolve("tokenizer.json")).exists();
        try (CausalLM onLoad = ModelLoader.load(src, new LoadOptions(0, "w8a8"));
             CausalLM written = ModelLoader.load(out, LoadOptions.defaults())) {
            for (GoldenReference.Prompt p : GoldenReference.load(src).prompts()) {
                assertThat(lastLogits(written, p.inputIds())).containsExactly(lastLogits(onLoad, p.inputIds()));
            }
        }
    }

    @Test
    void writtenCheckpointRoundTripsBitForBit() throws IOException {
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        CheckpointQuantizer.quantize(TestModels.llama(), a, "w8a8_dynamic");
        CheckpointQuantizer.quantize(TestModels.llama(), b, "w8a8_dynamic");
        assertThat(Files.mismatch(a.resolve("model.safetensors"), b.resolve("model.safetensors"))).isEqualTo(-1L);
        try (SafeTensors original = SafeTensors.open(TestModels.llama()); SafeTensors written = SafeTensors.open(a);
             Arena arena = Arena.ofShared()) {
            String name = "model.layers.2.mlp.down_proj.weight";
            Int8Rows expected = Quantizer.quantizeRows(new Weights(original).matrix(name, 256, 768), arena);
            Tensor q = written.get(name);
            assertThat(q.dtype()).isEqualTo(DType.I8);
            assertThat(q.data().mismatch(expected.data())).isEqualTo(-1L);
            float[] scales = Weights.toFloats(written.get("model.layers.2.mlp.down_proj.weight_scale"));
            assertThat(scales).containsExactly(expected.scales());
            assertThat(written.get("model.embed_tokens.weight").dtype()).isEqualTo(DType.BF16);
            assertThat(written.get("lm_head.weight").dtype()).isEqualTo(DType.BF16);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void fp8CopyStaysCloseToBf16(String name) throws IOException {
        Path src = BothGoldenModels.dir(name), out = tmp.resolve(name + "-fp8");
        CheckpointQuantizer.quantize(src, out, "fp8");
        try (CausalLM fp8 = ModelLoader.load(out, LoadOptions.defaults()); SafeTensors st = SafeTensors.open(out)) {
            assertThat(st.get("model.layers.0.mlp.gate_proj.weight").dtype()).isEqualTo(DType.F8_E4M3);
            double maxErr = 0, sumErr = 0;
            int n = 0, agree = 0, prompts = 0;
            for (GoldenReference.Prompt p : GoldenReference.load(src).prompts()) {
                float[] logits = lastLogits(fp8, p.inputIds());
                for (int v = 0; v < logits.length; v++) {
                    double e = Math.abs(logits[v] - p.lastLogits()[v]);
                    maxErr = Math.max(maxErr, e);
                    sumErr += e;
                    n++;
                }
                if (SingleSequence.argmax(logits) == SingleSequence.argmax(p.lastLogits())) agree++;
                prompts++;
            }
            System.out.printf("FP8 %s: last-position logits vs transformers bf16: max |err| %.4f, mean |err| %.4f, top-1 %d/%d%n",
                    name, maxErr, sumErr / n, agree, prompts);
            // The stated tolerance: E4M3 keeps 3 mantissa bits, so about 3% error per weight.
            assertThat(sumErr / n).isLessThan(0.15);
            assertThat(maxErr).isLessThan(1.0);
            assertThat(agree).isGreaterThanOrEqualTo(prompts - 1);
        }
    }

    @Test
    void e4m3EncodingInvertsDecodingAndRoundsToNearest() {
        for (int code = 0; code < 256; code++) {
            if ((code & 0x7F) == 0x7F) continue; // NaN
            assertThat(Quantizer.toE4M3(Quantizer.e4m3((byte) code)) & 0xFF).as("code %02x", code).isEqualTo(code);
        }
        assertThat(Quantizer.e4m3(Quantizer.toE4M3(1000f))).isEqualTo(448f);
        assertThat(Quantizer.e4m3(Quantizer.toE4M3(1.06f))).isEqualTo(1.0f);   // 1.0 and 1.125: nearer 1.0
        assertThat(Quantizer.e4m3(Quantizer.toE4M3(1.0625f))).isEqualTo(1.0f); // the tie goes to the even code
        assertThat(Quantizer.e4m3(Quantizer.toE4M3(-3.3f))).isEqualTo(-3.25f);
    }

    @Test
    void staticW8A8UsesTheCalibratedScaleZeroPointBiasAndDequantScale() {
        int rows = 3, cols = 64;
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(2)) {
            MemorySegment q = arena.allocate((long) rows * cols);
            for (int i = 0; i < rows * cols; i++) q.set(ValueLayout.JAVA_BYTE, i, (byte) ((i * 37) % 255 - 127));
            int[] quantBias = {5, -7, 100};
            float[] deq = {0.01f, 0.02f, 0.005f};
            Int8Matrix m = Int8Matrix.pack(new Int8Rows(q, rows, cols, new float[] {1, 1, 1}, null, new Int8Rows.StaticInput(0.05f, 3f, quantBias, deq)), arena);
            float[] x = new float[2 * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i) * 4;
            float[] out = new float[2 * rows];
            new MatMul(pool).run(m, x, 2, out);
            for (int t = 0; t < 2; t++) {
                for (int r = 0; r < rows; r++) {
                    long dot = 0;
                    for (int c = 0; c < cols; c++) {
                        int xq = Math.max(-128, Math.min(127, Math.round(x[t * cols + c] / 0.05f + 3f)));
                        dot += (long) q.get(ValueLayout.JAVA_BYTE, (long) r * cols + c) * xq;
                    }
                    assertThat(out[t * rows + r]).isEqualTo((dot + quantBias[r]) * deq[r]);
                }
            }
        }
    }

    @Test
    void unknownMethodIsRefused() {
        assertThatThrownBy(() -> CheckpointQuantizer.quantize(TestModels.llama(), tmp.resolve("x"), "awq"))
                .hasMessageContaining("unknown method 'awq': use w8a8_dynamic or fp8");
    }
}
