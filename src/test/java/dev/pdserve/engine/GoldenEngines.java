package dev.pdserve.engine;

import dev.pdserve.TestModels;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import dev.pdserve.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Both golden models loaded once per test class, and every engine a test puts in {@link #engines}
 * drained and checked for leaked KV blocks after each test.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class GoldenEngines {
    final Map<String, CausalLM> models = new HashMap<>();
    final Map<String, Tokenizer> tokenizers = new HashMap<>();
    final List<Engine> engines = new ArrayList<>();

    static Path dir(String name) { return name.equals("deepseek") ? TestModels.deepseek() : TestModels.llama(); }

    @BeforeAll
    void load() {
        for (String m : List.of("deepseek", "llama")) {
            models.put(m, ModelLoader.load(dir(m), LoadOptions.defaults()));
            tokenizers.put(m, Tokenizer.load(dir(m)));
        }
    }

    @AfterAll
    void unload() {
        models.values().forEach(CausalLM::close);
        tokenizers.values().forEach(Tokenizer::close);
    }

    @AfterEach
    void noBlockLeaked() {
        for (Engine e : engines) {
            e.drain();
            assertThat(e.stats().numBlocksUsed()).as("KV blocks still in use").isZero();
            e.close();
        }
        engines.clear();
    }
}
