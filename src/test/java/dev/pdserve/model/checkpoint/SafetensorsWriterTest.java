package dev.pdserve.model.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.model.DType;
import dev.pdserve.model.SafeTensors;
import dev.pdserve.model.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsWriterTest {
    @TempDir Path dir;

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void everyDtypeRoundTripsThroughTheProjectReader() throws IOException {
        byte[] bf16 = randomBytes(2 * 3 * 5, 1), f16 = randomBytes(2 * 7, 2), f32 = randomBytes(4 * 4 * 2, 3);
        byte[] i8 = randomBytes(9, 4), f8 = randomBytes(3 * 3, 5);
        var w = new SafetensorsWriter()
                .add("a.bf16", DType.BF16, new long[] {3, 5}, MemorySegment.ofArray(bf16))
                .add("b.f16", DType.F16, new long[] {7}, sink -> sink.write(f16, 0, f16.length))
                .add("c.f32", DType.F32, new long[] {4, 2}, sink -> {
                    ByteBuffer bb = ByteBuffer.wrap(f32).order(ByteOrder.LITTLE_ENDIAN);
                    while (bb.hasRemaining()) sink.putFloat(bb.getFloat());
                })
                .add("d.i8", DType.I8, new long[] {9}, sink -> { for (byte v : i8) sink.put(v); })
                .add("e.f8", DType.F8_E4M3, new long[] {3, 3}, MemorySegment.ofArray(f8))
                .add("f.scalar", DType.F32, new long[] {}, sink -> sink.putFloat(2.5f))
                .add("g.empty", DType.BF16, new long[] {0, 4}, sink -> { })
                .metadata("producer", "test");
        Path file = dir.resolve("model.safetensors");
        w.write(file);

        byte[] raw = Files.readAllBytes(file);
        long headerLen = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(headerLen % 8).as("data starts 8-byte aligned").isZero();
        String header = new String(raw, 8, (int) headerLen, StandardCharsets.UTF_8);
        JsonNode root = new ObjectMapper().readTree(header);
        assertThat(root.get("__metadata__").get("format").asText()).isEqualTo("pt");
        assertThat(root.get("__metadata__").get("producer").asText()).isEqualTo("test");
        assertThat(root.get("c.f32").get("data_offsets").toString()).as("F32 first").isEqualTo("[0,32]");
        root.properties().forEach(e -> {
            if (e.getKey().equals("__metadata__")) return;
            int size = DType.valueOf(e.getValue().get("dtype").asText()).bytes;
            assertThat(e.getValue().get("data_offsets").get(0).asLong() % size).as(e.getKey() + " aligned").isZero();
        });
        assertThat(raw.length).isEqualTo(8 + headerLen + w.totalBytes());

        try (SafeTensors st = SafeTensors.open(dir)) {
            assertThat(st.names()).containsExactly("c.f32", "f.scalar", "a.bf16", "b.f16", "g.empty", "d.i8", "e.f8");
            check(st.get("a.bf16"), DType.BF16, new long[] {3, 5}, bf16);
            check(st.get("b.f16"), DType.F16, new long[] {7}, f16);
            check(st.get("c.f32"), DType.F32, new long[] {4, 2}, f32);
            check(st.get("d.i8"), DType.I8, new long[] {9}, i8);
            check(st.get("e.f8"), DType.F8_E4M3, new long[] {3, 3}, f8);
            assertThat(st.get("f.scalar").data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0)).isEqualTo(2.5f);
            assertThat(st.get("g.empty").numel()).isZero();
        }
    }

    private static void check(Tensor t, DType dtype, long[] shape, byte[] bytes) {
        assertThat(t.dtype()).isEqualTo(dtype);
        assertThat(t.shape()).isEqualTo(shape);
        assertThat(t.data().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(bytes);
    }

    @Test
    void largeTensorsStreamThroughTheBufferInOrder() throws IOException {
        // 12 MiB: three times the writer's buffer, written in odd-sized pieces.
        int n = 6 << 20;
        new SafetensorsWriter().add("big", DType.BF16, new long[] {n}, sink -> {
            ByteBuffer piece = ByteBuffer.allocate(2 * 100_003).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; ) {
                piece.clear();
                int m = Math.min(100_003, n - i);
                for (int k = 0; k < m; k++) piece.putShort((short) (i + k));
                piece.flip();
                sink.write(piece);
                i += m;
            }
        }).write(dir.resolve("model.safetensors"));
        try (SafeTensors st = SafeTensors.open(dir)) {
            MemorySegment data = st.get("big").data();
            var layout = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i += 9973) assertThat(data.get(layout, 2L * i)).isEqualTo((short) i);
            assertThat(data.get(layout, 2L * (n - 1))).isEqualTo((short) (n - 1));
        }
    }

    @Test
    void shardsWithAnIndexThatTheReaderFollows() throws IOException {
        var w = new SafetensorsWriter();
        for (int i = 0; i < 5; i++) w.add("t" + i, DType.F32, new long[] {100}, MemorySegment.ofArray(randomBytes(400, i)));
        w.add("huge", DType.I8, new long[] {2000}, MemorySegment.ofArray(randomBytes(2000, 9)));
        var files = w.writeSharded(dir, 1000);

        // 400+400 | 400+400 | 400 | 2000 (larger than the limit: a shard of its own)
        assertThat(files).extracting(p -> p.getFileName().toString()).containsExactly(
                "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
                "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors", "model.safetensors.index.json");
        JsonNode index = new ObjectMapper().readTree(dir.resolve("model.safetensors.index.json").toFile());
        assertThat(index.get("metadata").get("total_size").asLong()).isEqualTo(4000);
        assertThat(index.get("weight_map").get("t2").asText()).isEqualTo("model-00002-of-00004.safetensors");
        assertThat(index.get("weight_map").get("huge").asText()).isEqualTo("model-00004-of-00004.safetensors");
        try (SafeTensors st = SafeTensors.open(dir)) {
            assertThat(st.names()).containsExactlyInAnyOrder("t0", "t1", "t2", "t3", "t4", "huge");
            check(st.get("t3"), DType.F32, new long[] {100}, randomBytes(400, 3));
            check(st.get("huge"), DType.I8, new long[] {2000}, randomBytes(2000, 9));
        }
    }

    @Test
    void everythingUnderTheLimitIsOneFile() throws IOException {
        var files = new SafetensorsWriter().add("x", DType.I8, new long[] {4}, MemorySegment.ofArray(new byte[4])).writeSharded(dir, 1 << 20);
        assertThat(files).containsExactly(dir.resolve("model.safetensors"));
        assertThat(dir.resolve("model.safetensors.index.json")).doesNotExist();
    }

    @Test
    void aSourceWritingTheWrongSizeIsAnError() {
        var w = new SafetensorsWriter().add("short", DType.F32, new long[] {4}, sink -> sink.putFloat(1f));
        assertThatThrownBy(() -> w.write(dir.resolve("model.safetensors")))
                .hasMessageContaining("short").hasMessageContaining("wrote 4 bytes").hasMessageContaining("need 16");
    }

    @Test
    void badDeclarationsAreRejected() {
        var w = new SafetensorsWriter().add("x", DType.I8, new long[] {1}, sink -> sink.put((byte) 1));
        assertThatThrownBy(() -> w.add("x", DType.I8, new long[] {1}, sink -> { })).hasMessageContaining("added twice");
        assertThatThrownBy(() -> w.add("__metadata__", DType.I8, new long[] {1}, sink -> { })).hasMessageContaining("reserved");
        assertThatThrownBy(() -> w.add("y", DType.F32, new long[] {2}, MemorySegment.ofArray(new byte[7])))
                .hasMessageContaining("7 bytes given").hasMessageContaining("8");
    }
}
