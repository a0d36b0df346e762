package dev.pdserve.model;

import dev.pdserve.TestModels;
import dev.pdserve.kernels.Bf16Matrix;
import dev.pdserve.kernels.Int8Matrix;
import dev.pdserve.kernels.Int8Rows;
import dev.pdserve.kernels.MatMul;
import dev.pdserve.kernels.WorkerPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class QuantizationTest {
    /** E4M3 decoded from its bits independently: sign, exponent field, mantissa field. */
    private static float reference(int code) {
        int e = (code >> 3) & 15, m = code & 7;
        double v = e == 0 ? m * Math.pow(2, -9) : (8 + m) * Math.pow(2, e - 10);
        return (float) ((code & 0x80) != 0 ? -v : v);
    }

    @Test
    void e4m3DecodesAll256Codes() {
        for (int code = 0; code < 256; code++) {
            float got = Quantizer.e4m3((byte) code);
            if ((code & 0x7F) == 0x7F) assertThat(got).as("code %02x", code).isNaN();
            else assertThat(got).as("code %02x", code).isEqualTo(reference(code));
        }
        assertThat(Quantizer.e4m3((byte) 0x7E)).isEqualTo(448f);
        assertThat(Quantizer.e4m3((byte) 0x01)).isEqualTo((float) Math.pow(2, -9));
        assertThat(Quantizer.e4m3((byte) 0x38)).isEqualTo(1f);
        assertThat(Float.floatToRawIntBits(Quantizer.e4m3((byte) 0x80))).isEqualTo(0x80000000);
    }

    @Test
    void fp8BlockScalesApplyPerBlockIncludingPartialBlocks() {
        int rows = 3, cols = 5, br = 2, bc = 2; // blocks: 2x3 grid, the last row and column partial
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment codes = arena.allocate(rows * cols);
            for (int i = 0; i < rows * cols; i++) codes.set(ValueLayout.JAVA_BYTE, i, (byte) (0x30 + i)); // 0.5 .. ~3.25
            float[] scaleInv = {1f, 2f, 4f, 0.5f, 0.25f, 8f};
            Tensor t = new Tensor("w.weight", DType.F8_E4M3, new long[] {rows, cols}, codes, Path.of("hand-made"));
            Bf16Matrix m = Quantizer.dequantizeFp8(t, scaleInv, br, bc, arena);
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                m.copyRow(r, row, 0);
                for (int c = 0; c < cols; c++) {
                    float expected = reference(0x30 + r * cols + c) * scaleInv[(r / br) * 3 + c / bc];
                    assertThat(row[c]).as("[%d][%d]", r, c).isCloseTo(expected, within(Math.abs(expected) / 256));
                }
            }
            assertThatThrownBy(() -> Quantizer.dequantizeFp8(t, new float[4], br, bc, arena)).hasMessageContaining("has 4 values");
        }
    }

    @Test
    void int8MatmulEqualsDequantizedMath() {
        Random rnd = new Random(7);
        int rows = 37, cols = 300, tokens = 5;
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(2)) {
            MemorySegment bf16 = arena.allocate(2L * rows * cols);
            for (int i = 0; i < rows * cols; i++) bf16.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i, Quantizer.toBf16((float) rnd.nextGaussian()));
            Int8Rows q = Quantizer.quantizeRows(new Bf16Matrix(bf16, rows, cols), arena);
            float[] x = new float[tokens * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            float[] out = new float[tokens * rows];
            new MatMul(pool).run(Int8Matrix.pack(q, arena), x, tokens, out);
            float[] xq = new float[x.length];
            float[] xs = new float[tokens];
            float[] sums = new float[tokens];
            Int8Matrix.quantizeActivations(x, tokens, cols, xq, xs, sums);
            for (int t = 0; t < tokens; t++) {
                for (int r = 0; r < rows; r++) {
                    long dot = 0;
                    for (int c = 0; c < cols; c++) dot += q.q(r, c) * (long) xq[t * cols + c];
                    float expected = dot * q.scales()[r] * xs[t];
                    // Exact integer dot, so only the final float scaling may round.
                    assertThat(out[t * rows + r]).as("row %d token %d", r, t).isCloseTo(expected, within(Math.abs(expected) * 1e-6f + 1e-9f));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void w8a8AgreesWithTransformersOnTop1(String name) {
        Path dir = name.equals("deepseek") ? TestModels.deepseek() : TestModels.llama();
        try (CausalLM model = ModelLoader.load(dir, new LoadOptions(0, "w8a8"))) {
            int agree = 0, total = 0;
            double absErr = 0;
            int errCount = 0;
            for (GoldenReference.Prompt p : GoldenReference.load(dir).prompts()) {
                try (SingleSequence seq = new SingleSequence(model, p.inputIds().length)) {
                    float[] logits = null;
                    for (int pos = 0; pos < p.inputIds().length; pos++) {
                        logits = seq.feed(p.inputIds()[pos]);
                        if (SingleSequence.argmax(logits) == p.top5Ids()[pos][0]) agree++;
                        total++;
                    }
                    for (int v = 0; v < logits.length; v++) absErr += Math.abs(logits[v] - p.lastLogits()[v]);
                    errCount += logits.length;
                }
            }
            double agreement = (double) agree / total, meanErr = absErr / errCount;
            System.out.printf("W8A8 %s: top-1 agreement %.4f over %d positions, mean |logit error| %.4f%n", name, agreement, total, meanErr);
            assertThat(agreement).isGreaterThanOrEqualTo(0.95);
        }
    }

    @Test
    void unknownQuantizationListsTheSupportedOnes() {
        assertThatThrownBy(() -> ModelLoader.load(TestModels.llama(), new LoadOptions(0, "awq")))
                .hasMessageContaining("quantization 'awq' is not supported; supported: w8a8, w8a8_dynamic, ascend");
    }
}
