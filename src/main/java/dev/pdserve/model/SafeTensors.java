package dev.pdserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The tensors of a checkpoint folder: {@code model.safetensors}, or the shards named by
 * {@code model.safetensors.index.json}. Files are memory-mapped read-only (FFM); tensors are
 * views into them, so loading costs no copy and the OS pages weights in on first use.
 */
public final class SafeTensors implements AutoCloseable {
    private static final long MAX_HEADER = 100L << 20;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Path dir;

    private SafeTensors(Path dir) { this.dir = dir; }

    public static SafeTensors open(Path modelDir) {
        SafeTensors st = new SafeTensors(modelDir);
        try {
            Path index = modelDir.resolve("model.safetensors.index.json");
            Path single = modelDir.resolve("model.safetensors");
            if (Files.exists(index)) {
                st.openSharded(index);
            } else if (Files.exists(single)) {
                st.openFile(single);
            } else {
                try (var files = Files.list(modelDir)) {
                    Path[] found = files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toArray(Path[]::new);
                    if (found.length == 0) throw new ModelLoadException("no model.safetensors (or index) in " + modelDir);
                    for (Path p : found) st.openFile(p);
                }
            }
        } catch (IOException e) {
            st.close();
            throw new ModelLoadException("cannot read weights in " + modelDir + ": " + e, e);
        } catch (RuntimeException e) {
            st.close();
            throw e;
        }
        return st;
    }

    private void openSharded(Path index) throws IOException {
        JsonNode map;
        try {
            map = new ObjectMapper().readTree(index.toFile()).get("weight_map");
        } catch (IOException e) {
            throw new ModelLoadException(index + " is not valid JSON: " + e.getMessage());
        }
        if (map == null || !map.isObject()) throw new ModelLoadException(index + " has no weight_map object");
        Set<String> shards = new TreeSet<>();
        map.properties().forEach(e -> shards.add(e.getValue().asText()));
        for (String shard : shards) {
            Path p = dir.resolve(shard);
            if (!Files.exists(p)) throw new ModelLoadException(index + " names shard " + shard + ", which does not exist");
            openFile(p);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = map.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Tensor t = tensors.get(e.getKey());
            if (t == null || !t.file().getFileName().toString().equals(e.getValue().asText())) {
                throw new ModelLoadException(index + " maps tensor '" + e.getKey() + "' to " + e.getValue().asText() + " but that file does not hold it");
            }
        }
    }

    private void openFile(Path file) throws IOException {
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
        // Re-view the mapping as a plain native segment (same memory, same arena). The Vector API's
        // loads are profiled per JDK method, not per caller: with both mapped and native segments
        // in use (weights read in place and weights repacked at load) every kernel's loads became
        // bimorphic and the batched matmul ran 1.4x slower. Nothing writes through this view.
        seg = MemorySegment.ofAddress(seg.address()).reinterpret(seg.byteSize(), arena, null);
        long size = seg.byteSize();
        if (size < 8) throw new ModelLoadException(file + " is too short to be a safetensors file (" + size + " bytes)");
        long headerLen = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
            throw new ModelLoadException(file + ": corrupt safetensors header (header length " + headerLen + ", file size " + size + ")");
        }
        byte[] header = seg.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(new String(header, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new ModelLoadException(file + ": corrupt safetensors header (not JSON: " + e.getMessage() + ")");
        }
        if (root == null || !root.isObject()) throw new ModelLoadException(file + ": corrupt safetensors header (not a JSON object)");
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) continue;
            tensors.put(name, parseTensor(file, seg, name, e.getValue(), dataStart, dataLen));
        }
    }

    private static Tensor parseTensor(Path file, MemorySegment seg, String name, JsonNode info, long dataStart, long dataLen) {
        String where = "tensor '" + name + "' in " + file;
        DType dtype = DType.parse(info.path("dtype").asText());
        if (dtype == null) throw new ModelLoadException(where + " has unsupported dtype '" + info.path("dtype").asText() + "'");
        JsonNode shapeNode = info.path("shape");
        JsonNode offsets = info.path("data_offsets");
        if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
            throw new ModelLoadException(where + ": header entry needs 'shape' and two 'data_offsets'");
        }
        long[] shape = new long[shapeNode.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = shapeNode.get(i).asLong(-1);
            if (shape[i] < 0) throw new ModelLoadException(where + " has a negative or non-integer dimension");
            numel *= shape[i];
        }
        long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
        if (begin < 0 || end < begin || end > dataLen) {
            throw new ModelLoadException(where + " has data_offsets [" + begin + ", " + end + "] past the end of the data (" + dataLen + " bytes)");
        }
        if (end - begin != numel * dtype.bytes) {
            throw new ModelLoadException(where + " holds " + (end - begin) + " bytes but " + dtype + " shape needs " + numel * dtype.bytes);
        }
        return new Tensor(name, dtype, shape, seg.asSlice(dataStart + begin, end - begin), file);
    }

    public boolean has(String name) { return tensors.containsKey(name); }

    public Set<String> names() { return tensors.keySet(); }

    public Path dir() { return dir; }

    /** The tensor, or a {@link ModelLoadException} naming it and the folder. */
    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new ModelLoadException("tensor '" + name + "' is missing from the checkpoint in " + dir);
        return t;
    }

    @Override
    public void close() {
        arena.close();
    }
}
