package dev.pdserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What transformers computed for a golden model: models/NAME/reference.json. */
public record GoldenReference(List<Prompt> prompts) {
    public record Prompt(String text, int[] inputIds, float[] lastLogits, int[][] top5Ids, int[] greedyIds,
                         double[] greedyMargins, int[][] greedyTop2, float[] stepLogits1, float[] stepLogits39) {}

    public static GoldenReference load(Path modelDir) {
        try {
            JsonNode root = new ObjectMapper().readTree(modelDir.resolve("reference.json").toFile());
            List<Prompt> prompts = new ArrayList<>();
            for (JsonNode p : root.get("prompts")) {
                int[][] top5 = new int[p.get("top5_ids").size()][];
                for (int i = 0; i < top5.length; i++) top5[i] = ints(p.get("top5_ids").get(i));
                int[][] top2 = new int[p.get("greedy_step_top2").size()][];
                for (int i = 0; i < top2.length; i++) top2[i] = ints(p.get("greedy_step_top2").get(i).get(0));
                double[] margins = new double[p.get("greedy_margins").size()];
                for (int i = 0; i < margins.length; i++) margins[i] = p.get("greedy_margins").get(i).asDouble();
                prompts.add(new Prompt(p.get("prompt").asText(), ints(p.get("input_ids")), floats(p.get("last_logits")), top5,
                        ints(p.get("greedy_ids")), margins, top2,
                        floats(p.get("greedy_step_logits").get("1")), floats(p.get("greedy_step_logits").get("39"))));
            }
            return new GoldenReference(prompts);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    static float[] floats(JsonNode a) {
        float[] r = new float[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = (float) a.get(i).asDouble();
        return r;
    }
}
