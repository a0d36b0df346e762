package dev.pdserve.model.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.model.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes tensors in the Hugging Face safetensors format: an 8-byte little-endian header length,
 * a JSON header ({@code dtype}, {@code shape}, {@code data_offsets} per tensor and
 * {@code __metadata__}) padded with spaces to 8 bytes, then the raw little-endian data.
 * Tensors are declared first ({@link #add}) and their bytes produced only while writing, through
 * a small buffer, so multi-GB checkpoints never sit in the heap. {@link #writeSharded} splits the
 * tensors over {@code model-0000i-of-0000N.safetensors} files plus {@code model.safetensors.index.json}.
 */
public final class SafetensorsWriter {

    /** Produces one tensor's bytes, in order, exactly {@code numel * dtype.bytes} of them. */
    @FunctionalInterface
    public interface TensorSource {
        void writeTo(Sink sink) throws IOException;
    }

    /** One declared tensor. */
    public record Entry(String name, DType dtype, long[] shape, TensorSource source) {
        public long numel() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public long byteSize() { return numel() * dtype.bytes; }
    }

    private static final int BUFFER_BYTES = 4 << 20;

    private final Map<String, Entry> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>(Map.of("format", "pt"));

    public SafetensorsWriter add(String name, DType dtype, long[] shape, TensorSource source) {
        if (name.equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is reserved");
        for (long d : shape) if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in shape");
        if (tensors.putIfAbsent(name, new Entry(name, dtype, shape.clone(), source)) != null) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        return this;
    }

    /** Adds a tensor whose bytes already sit in memory (on or off heap, e.g. a mapped file). */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, MemorySegment data) {
        long expected = new Entry(name, dtype, shape, null).byteSize();
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes given, shape and dtype need " + expected);
        }
        return add(name, dtype, shape, sink -> sink.write(data));
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public List<Entry> entries() { return List.copyOf(tensors.values()); }

    public long totalBytes() {
        return tensors.values().stream().mapToLong(Entry::byteSize).sum();
    }

    /** Writes every tensor into one file. */
    public void write(Path file) throws IOException {
        writeFile(file, List.copyOf(tensors.values()));
    }

    /**
     * Writes into {@code dir}: one {@code model.safetensors} when everything fits in
     * {@code maxShardBytes} (or it is &lt;= 0), else shards of at most that size (a tensor larger
     * than the limit gets a shard of its own) and the index. Returns the files written.
     */
    public List<Path> writeSharded(Path dir, long maxShardBytes) throws IOException {
        Files.createDirectories(dir);
        List<List<Entry>> shards = new ArrayList<>();
        List<Entry> current = new ArrayList<>();
        long size = 0;
        for (Entry t : tensors.values()) {
            if (maxShardBytes > 0 && !current.isEmpty() && size + t.byteSize() > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(t);
            size += t.byteSize();
        }
        shards.add(current);
        if (shards.size() == 1) {
            Path file = dir.resolve("model.safetensors");
            writeFile(file, shards.getFirst());
            return List.of(file);
        }
        List<Path> files = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        ObjectNode index = json.createObjectNode();
        index.putObject("metadata").put("total_size", totalBytes());
        ObjectNode weightMap = index.putObject("weight_map");
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            writeFile(dir.resolve(name), shards.get(i));
            for (Entry t : shards.get(i)) weightMap.put(t.name(), name);
            files.add(dir.resolve(name));
        }
        Path indexFile = dir.resolve("model.safetensors.index.json");
        Files.writeString(indexFile, json.writerWithDefaultPrettyPrinter().writeValueAsString(index));
        files.add(indexFile);
        return files;
    }

    private void writeFile(Path file, List<Entry> declared) throws IOException {
        // Wider dtypes first (a stable sort), as the reference writer does, so every tensor's data
        // is aligned to its element size even when a file mixes F32 and I8.
        List<Entry> list = new ArrayList<>(declared);
        list.sort(Comparator.comparingInt((Entry t) -> t.dtype().bytes).reversed());
        byte[] header = header(list);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            Sink sink = new Sink(ch);
            sink.buffer.putLong(header.length);
            sink.write(ByteBuffer.wrap(header));
            for (Entry t : list) {
                long before = sink.written();
                t.source().writeTo(sink);
                long wrote = sink.written() - before;
                if (wrote != t.byteSize()) {
                    throw new IllegalStateException("tensor '" + t.name() + "' wrote " + wrote + " bytes, its shape and dtype need " + t.byteSize());
                }
            }
            sink.flush();
        }
    }

    private byte[] header(List<Entry> list) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        ObjectNode meta = root.putObject("__metadata__");
        metadata.forEach(meta::put);
        long offset = 0;
        for (Entry t : list) {
            ObjectNode n = root.putObject(t.name());
            n.put("dtype", t.dtype().name());
            var shape = n.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            n.putArray("data_offsets").add(offset).add(offset + t.byteSize());
            offset += t.byteSize();
        }
        byte[] raw;
        try {
            raw = json.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // The data must start 8-byte aligned: pad the JSON with spaces, as the reference writer does.
        int padded = (raw.length + 7) & ~7;
        byte[] header = new byte[padded];
        System.arraycopy(raw, 0, header, 0, raw.length);
        for (int i = raw.length; i < padded; i++) header[i] = ' ';
        return header;
    }

    /**
     * Where a {@link TensorSource} writes: a little-endian buffer in front of the file channel.
     * Small writes ({@link #putShort}, {@link #putFloat}, ...) go into the buffer; bulk writes
     * ({@link #write(ByteBuffer)}, {@link #write(MemorySegment)}) pass through it.
     */
    public static final class Sink {
        private final FileChannel channel;
        final ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        private final MemorySegment bufferSegment = MemorySegment.ofBuffer(buffer);
        private long flushed;

        private Sink(FileChannel channel) { this.channel = channel; }

        long written() { return flushed + buffer.position(); }

        public void put(byte v) throws IOException { ensure(1); buffer.put(v); }

        public void putShort(short v) throws IOException { ensure(2); buffer.putShort(v); }

        public void putInt(int v) throws IOException { ensure(4); buffer.putInt(v); }

        public void putFloat(float v) throws IOException { ensure(4); buffer.putFloat(v); }

        public void write(byte[] bytes, int from, int length) throws IOException { write(ByteBuffer.wrap(bytes, from, length)); }

        /** Writes the remaining bytes of {@code src} as they are (they must already be little-endian). */
        public void write(ByteBuffer src) throws IOException {
            while (src.hasRemaining()) {
                if (!buffer.hasRemaining()) flush();
                int n = Math.min(src.remaining(), buffer.remaining());
                buffer.put(buffer.position(), src, src.position(), n);
                buffer.position(buffer.position() + n);
                src.position(src.position() + n);
            }
        }

        public void write(MemorySegment src) throws IOException {
            long done = 0, size = src.byteSize();
            while (done < size) {
                if (!buffer.hasRemaining()) flush();
                int n = (int) Math.min(size - done, buffer.remaining());
                MemorySegment.copy(src, done, bufferSegment, buffer.position(), n);
                buffer.position(buffer.position() + n);
                done += n;
            }
        }

        private void ensure(int bytes) throws IOException {
            if (buffer.remaining() < bytes) flush();
        }

        void flush() throws IOException {
            buffer.flip();
            while (buffer.hasRemaining()) flushed += channel.write(buffer);
            buffer.clear();
        }
    }
}
