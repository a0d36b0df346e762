package dev.pdserve.jmh;

import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The settings both decode benchmarks share, so pdserve and Jlama run the same work: a model
 * folder, a prompt ({@code --prompt-ids}, or {@code promptTokens} random ids (fixed seed, ids 5..4095 so any of our
 * checkpoints' tokenizers knows them)), {@code decodeTokens} greedy steps after it, worker threads.
 */
record BenchArgs(Path model, int promptTokens, int decodeTokens, int warmupTokens, int threads, int[] promptIds, int prefillChunk) {
    static BenchArgs parse(String[] args) {
        Path model = null;
        int prompt = 256, decode = 32, warmup = 8, threads = Runtime.getRuntime().availableProcessors();
        int[] ids = null;
        int chunk = 0;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = Path.of(args[++i]);
                case "--prompt-tokens" -> prompt = Integer.parseInt(args[++i]);
                case "--decode-tokens" -> decode = Integer.parseInt(args[++i]);
                case "--warmup-tokens" -> warmup = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--prefill-chunk" -> chunk = Integer.parseInt(args[++i]);
                case "--prompt-ids" -> ids = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (--model DIR --prompt-tokens N | --prompt-ids 0,17,5 --decode-tokens N --warmup-tokens N --threads N --prefill-chunk N)");
            }
        }
        if (model == null) throw new IllegalArgumentException("--model DIR is required");
        if (ids != null) prompt = ids.length;
        return new BenchArgs(model, prompt, decode, warmup, threads, ids, chunk);
    }

    /** Tokens per prefill forward: the whole prompt unless --prefill-chunk is given. */
    int chunk(int promptLength) { return prefillChunk > 0 ? Math.min(prefillChunk, promptLength) : promptLength; }

    /** The given prompt ids when their length is asked for, else random ids after bos. */
    int[] prompt(int length) {
        if (promptIds != null && length == promptIds.length) return promptIds.clone();
        SplittableRandom r = new SplittableRandom(1234);
        int[] ids = new int[length];
        ids[0] = 0; // bos
        for (int i = 1; i < length; i++) ids[i] = 5 + r.nextInt(4091);
        return ids;
    }

    /** One line per number, {@code key=value}, which scripts/bench-decode.sh collects into its table. */
    static void report(String engine, double loadSeconds, double prefillSeconds, int promptTokens, double decodeSeconds, int decodeTokens, int[] firstTokens) {
        System.out.printf("engine=%s%nload_s=%.2f%nprefill_tokens=%d%nprefill_s=%.3f%nprefill_tok_s=%.1f%n", engine, loadSeconds,
                promptTokens, prefillSeconds, promptTokens / prefillSeconds);
        System.out.printf("decode_tokens=%d%ndecode_s=%.3f%ndecode_tok_s=%.2f%ndecode_ms_per_token=%.1f%n", decodeTokens, decodeSeconds,
                decodeTokens / decodeSeconds, decodeSeconds * 1000 / decodeTokens);
        StringBuilder sb = new StringBuilder();
        for (int t : firstTokens) sb.append(sb.isEmpty() ? "" : ",").append(t);
        System.out.println("greedy_tokens=" + sb);
    }
}
