package dev.pdserve.kv;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.model.ModelLoadException;
import dev.pdserve.model.SafeTensors;
import dev.pdserve.model.Tensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Set;
import java.util.TreeSet;

/**
 * A stable hash saying "these two instances run the same network": SHA-256 over config.json's
 * architecture fields (canonical JSON, sorted keys) and every weight's name, dtype and shape.
 * Fields that do not change the KV a prompt produces (bookkeeping, token ids, the
 * transformers version, the dtype note that the tensors already carry) are left out, so
 * re-saving a checkpoint does not change it; weight values are not hashed (that would read
 * gigabytes at start-up).
 */
public final class ModelFingerprint {
    private static final Set<String> NOT_ARCHITECTURE = Set.of("_name_or_path", "transformers_version", "torch_dtype", "dtype",
            "use_cache", "output_attentions", "output_hidden_states", "return_dict", "id2label", "label2id", "problem_type",
            "chunk_size_feed_forward", "torchscript", "_commit_hash", "bos_token_id", "eos_token_id", "pad_token_id",
            "is_encoder_decoder", "pretraining_tp", "initializer_range");

    private ModelFingerprint() {}

    /** {@code sha256:} and 32 hex digits, computed from a Hugging Face model folder. */
    public static String of(Path modelDir) {
        ObjectMapper json = new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
        JsonNode config;
        try {
            config = json.readTree(modelDir.resolve("config.json").toFile());
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + modelDir.resolve("config.json") + ": " + e.getMessage());
        }
        if (!(config instanceof ObjectNode obj)) throw new ModelLoadException(modelDir.resolve("config.json") + " is not a JSON object");
        ObjectNode arch = obj.deepCopy();
        arch.remove(NOT_ARCHITECTURE);
        MessageDigest sha = sha256();
        try {
            sha.update(json.writeValueAsString(json.treeToValue(arch, Object.class)).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        try (SafeTensors tensors = SafeTensors.open(modelDir)) {
            for (String name : new TreeSet<>(tensors.names())) {
                Tensor t = tensors.get(name);
                sha.update(("\n" + name + " " + t.dtype() + " " + Arrays.toString(t.shape())).getBytes(StandardCharsets.UTF_8));
            }
        }
        return "sha256:" + HexFormat.of().formatHex(sha.digest(), 0, 16);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
