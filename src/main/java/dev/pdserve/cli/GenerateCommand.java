package dev.pdserve.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.Engine;
import dev.pdserve.engine.EngineConfig;
import dev.pdserve.engine.GenerationRequest;
import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.engine.RequestOutput;
import dev.pdserve.engine.SamplingParams;
import dev.pdserve.engine.TokenLogprob;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Callable;

/** Offline generation through the serving engine: {@code pdserve generate --prompt TEXT --max-tokens N}. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text offline from a prompt.")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", description = "Hugging Face model folder (default: the built-in deepseek-v3-tiny).")
    Path model;

    @ArgGroup(multiplicity = "1")
    Prompt prompt;

    static final class Prompt {
        @Option(names = "--prompt", description = "Prompt text (BOS added as the tokenizer does).") String text;
        @Option(names = "--prompt-ids", split = ",", description = "Prompt token ids, e.g. 0,17,5.") int[] ids;
        @Option(names = "--chat", description = "One user message, rendered with the model's chat template.") String chat;
    }

    @Option(names = "--max-tokens", defaultValue = "64", description = "Most tokens to generate (default: ${DEFAULT-VALUE}); stops earlier at EOS.") int maxTokens;
    @Option(names = "--temperature", defaultValue = "0", description = "0 is greedy (default).") double temperature;
    @Option(names = "--top-p", defaultValue = "1", description = "Sample from the smallest set of tokens whose probabilities add up to P (default: ${DEFAULT-VALUE}, all tokens).") double topP;
    @Option(names = "--top-k", defaultValue = "0", description = "Sample from the K most likely tokens only (default: ${DEFAULT-VALUE}, all tokens).") int topK;
    @Option(names = "--seed", description = "Seed for sampling, so a run with temperature > 0 can be repeated exactly.") Long seed;
    @Option(names = "--threads", defaultValue = "0", description = "Kernel threads (default: all cores).") int threads;
    @Option(names = "--quantization", description = "w8a8 (also ascend): int8 weights and activations.") String quantization;
    @Option(names = "--json", description = "Print one JSON object: prompt_ids, output_ids, output_text, and per step the top 5 [id, logprob].") boolean json;

    @Override
    public Integer call() throws Exception {
        Path dir = model != null ? model : Defaults.builtInModel();
        try (CausalLM lm = ModelLoader.load(dir, new LoadOptions(threads, quantization));
             Tokenizer tokenizer = Tokenizer.load(dir)) {
            int[] promptIds = promptIds(tokenizer);
            int maxLen = promptIds.length + maxTokens;
            // One sequence: a KV pool of exactly its blocks (plus one spare) instead of a share of free RAM.
            long kvBytes = ((maxLen + 15) / 16 + 1) * PagedKvCache.blockBytes(lm.numLayers(), 16, lm.kvEntryFloats());
            EngineConfig config = EngineConfig.defaults(maxLen).withKvCacheBytes(kvBytes).withGpuMemoryUtilization(0).withMaxNumSeqs(1)
                    .withMaxNumBatchedTokens(Math.max(2048, maxLen)).withPrefixCaching(false).withSeed(seed == null ? 0 : seed);
            SamplingParams sampling = SamplingParams.builder().temperature(temperature).topP(topP).topK(topK).seed(seed)
                    .maxTokens(maxTokens).logprobs(json ? 5 : null).build();
            BlockingQueue<RequestOutput> outputs = new LinkedBlockingQueue<>();
            List<Integer> outputIds = new ArrayList<>();
            List<TokenLogprob> steps = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            PrintStream out = System.out;
            try (Engine engine = new Engine(lm, tokenizer, config)) {
                engine.submit(new GenerationRequest("generate-0", promptIds, sampling), outputs::add);
                RequestOutput o;
                do {
                    o = outputs.take();
                    for (int id : o.newTokenIds()) outputIds.add(id);
                    if (o.logprobs() != null) steps.addAll(o.logprobs());
                    text.append(o.textDelta());
                    if (!json) { out.print(o.textDelta()); out.flush(); }
                } while (!o.finished());
                if (o.error() != null) throw new IllegalStateException(o.error());
            }
            if (json) out.println(toJson(promptIds, outputIds, text.toString(), steps));
            else out.println();
            return 0;
        }
    }

    private int[] promptIds(Tokenizer tokenizer) {
        if (prompt.ids != null) return prompt.ids;
        if (prompt.text != null) return tokenizer.encode(prompt.text, true);
        String rendered = tokenizer.applyChatTemplate(List.of(Map.of("role", "user", "content", prompt.chat)), true, Map.of());
        return tokenizer.encode(rendered, false);
    }

    private static String toJson(int[] promptIds, List<Integer> outputIds, String text, List<TokenLogprob> steps) {
        ObjectMapper om = new ObjectMapper();
        ObjectNode root = om.createObjectNode();
        ArrayNode p = root.putArray("prompt_ids");
        for (int id : promptIds) p.add(id);
        ArrayNode o = root.putArray("output_ids");
        outputIds.forEach(o::add);
        root.put("output_text", text);
        ArrayNode top = root.putArray("top5");
        for (TokenLogprob step : steps) {
            ArrayNode row = top.addArray();
            for (int i = 0; i < step.topIds().length; i++) row.addArray().add(step.topIds()[i]).add(step.topLogprobs()[i]);
        }
        return root.toString();
    }
}
