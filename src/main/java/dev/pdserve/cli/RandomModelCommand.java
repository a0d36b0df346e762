package dev.pdserve.cli;

import dev.pdserve.model.checkpoint.RandomCheckpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code pdserve random-model --arch llama --preset 1b --out DIR}: a random-weight checkpoint for benchmarks. */
@Command(name = "random-model", mixinStandardHelpOptions = true,
        description = "Write a random-weight checkpoint (config.json, bf16 safetensors, tokenizer) in the Hugging Face layout.")
final class RandomModelCommand implements Callable<Integer> {
    @Option(names = "--arch", defaultValue = "llama", description = "llama or deepseek_v3 (default: ${DEFAULT-VALUE}).")
    String arch;

    @Option(names = "--preset", defaultValue = "tiny", description = "tiny or 1b (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--out", required = true, description = "Folder to write into (created if missing).")
    Path out;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-shard-size", defaultValue = "0", converter = ByteSize.Converter.class,
            description = "Split the weights into shards of at most this size, e.g. 2GB or 500MiB (default: one file).")
    long maxShardSize;

    @Option(names = "--tokenizer-from", description = "Folder whose tokenizer.json and tokenizer_config.json are copied (default: models/deepseek-v3-tiny).")
    Path tokenizerFrom;

    @Option(names = "--hidden-size") Integer hiddenSize;
    @Option(names = "--num-layers") Integer numLayers;
    @Option(names = "--num-heads") Integer numHeads;
    @Option(names = "--num-kv-heads") Integer numKvHeads;
    @Option(names = "--intermediate-size") Integer intermediateSize;
    @Option(names = "--vocab-size") Integer vocabSize;
    @Option(names = "--max-position-embeddings") Integer maxPositions;
    @Option(names = "--q-lora-rank", description = "DeepSeek: 0 for a plain q_proj.") Integer qLoraRank;
    @Option(names = "--kv-lora-rank") Integer kvLoraRank;
    @Option(names = "--n-routed-experts", description = "DeepSeek: 0 for a dense model.") Integer experts;
    @Option(names = "--n-shared-experts") Integer sharedExperts;
    @Option(names = "--num-experts-per-tok") Integer expertsPerTok;
    @Option(names = "--moe-intermediate-size") Integer moeIntermediateSize;
    @Option(names = "--first-k-dense-replace") Integer firstDense;
    @Option(names = "--n-group") Integer nGroup;
    @Option(names = "--topk-group") Integer topkGroup;
    @Option(names = "--num-nextn-predict-layers", description = "DeepSeek: MTP layers written after the decoder layers, as DeepSeek-V3 publishes them (default: 0).") Integer mtpLayers;

    @Override
    public Integer call() throws Exception {
        RandomCheckpoint.Spec s = RandomCheckpoint.preset(arch, preset);
        if (hiddenSize != null) s.hiddenSize = hiddenSize;
        if (numLayers != null) s.numLayers = numLayers;
        if (numHeads != null) s.numHeads = numHeads;
        if (numKvHeads != null) s.numKvHeads = numKvHeads;
        if (intermediateSize != null) s.intermediateSize = intermediateSize;
        if (vocabSize != null) s.vocabSize = vocabSize;
        if (maxPositions != null) s.maxPositions = maxPositions;
        if (qLoraRank != null) s.qLoraRank = qLoraRank;
        if (kvLoraRank != null) s.kvLoraRank = kvLoraRank;
        if (experts != null) s.nRoutedExperts = experts;
        if (sharedExperts != null) s.nSharedExperts = sharedExperts;
        if (expertsPerTok != null) s.numExpertsPerTok = expertsPerTok;
        if (moeIntermediateSize != null) s.moeIntermediateSize = moeIntermediateSize;
        if (firstDense != null) s.firstKDenseReplace = firstDense;
        if (nGroup != null) s.nGroup = nGroup;
        if (topkGroup != null) s.topkGroup = topkGroup;
        if (mtpLayers != null) s.numMtpLayers = mtpLayers;

        Path tokenizer = tokenizerFrom != null ? tokenizerFrom : defaultTokenizerDir();
        long params = RandomCheckpoint.parameterCount(s);
        System.err.printf("writing %s %s: %,d parameters (%.2f GB bf16) into %s%n", arch, preset, params, params * 2 / 1e9, out);
        long start = System.nanoTime();
        RandomCheckpoint.write(s, out, seed, maxShardSize, tokenizer);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.err.printf("done in %.1f s (%.0f MB/s)%n", seconds, params * 2 / 1e6 / seconds);
        return 0;
    }

    /** models/deepseek-v3-tiny of the install (PDSERVE_HOME, set by ./pdserve) or of the working directory. */
    private static Path defaultTokenizerDir() {
        String home = System.getenv("PDSERVE_HOME");
        Path dir = Path.of(home != null ? home : ".").resolve("models/deepseek-v3-tiny");
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("no " + dir + ": pass --tokenizer-from DIR");
        return dir;
    }
}
