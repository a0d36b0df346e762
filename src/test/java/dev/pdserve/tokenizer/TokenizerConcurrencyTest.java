package dev.pdserve.tokenizer;

import dev.pdserve.TestModels;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

class TokenizerConcurrencyTest {
    @Test
    void oneTokenizerServesManyThreads() throws Exception {
        try (Tokenizer tok = Tokenizer.load(TestModels.deepseek());
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<String> texts = new ArrayList<>();
            for (int i = 0; i < 32; i++) texts.add("request " + i + ": 中文 😀 def f(x): return x * " + i + "\n".repeat(i % 3));
            List<int[]> expected = texts.stream().map(t -> tok.encode(t, true)).toList();

            List<Future<Boolean>> results = new ArrayList<>();
            for (int round = 0; round < 8; round++) {
                for (int i = 0; i < texts.size(); i++) {
                    int k = i;
                    results.add(pool.submit(() -> {
                        int[] ids = tok.encode(texts.get(k), true);
                        return java.util.Arrays.equals(ids, expected.get(k)) && tok.decode(ids, true).equals(texts.get(k));
                    }));
                }
            }
            for (Future<Boolean> r : results) assertThat(r.get()).isTrue();
        }
    }
}
