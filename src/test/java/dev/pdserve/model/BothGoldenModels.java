package dev.pdserve.model;

import dev.pdserve.TestModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Loads both golden models once per test class; tests take the name ("deepseek" or "llama") as a parameter. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class BothGoldenModels {
    private final Map<String, CausalLM> models = new HashMap<>();

    @BeforeAll
    void loadModels() {
        models.put("deepseek", ModelLoader.load(TestModels.deepseek(), LoadOptions.defaults()));
        models.put("llama", ModelLoader.load(TestModels.llama(), LoadOptions.defaults()));
    }

    @AfterAll
    void closeModels() { models.values().forEach(CausalLM::close); }

    CausalLM model(String name) { return models.get(name); }

    static Path dir(String name) { return name.equals("deepseek") ? TestModels.deepseek() : TestModels.llama(); }
}
