package dev.pdserve;

import java.nio.file.Files;
import java.nio.file.Path;

/** The golden models shipped in the repo's models/ folder (tests never read outside the repo). */
public final class TestModels {
    private TestModels() {}

    public static Path repo() {
        Path p = Path.of(System.getProperty("pdserve.repo", ".")).toAbsolutePath().normalize();
        if (!Files.isDirectory(p.resolve("models"))) throw new IllegalStateException("no models/ under " + p);
        return p;
    }

    public static Path deepseek() { return repo().resolve("models/deepseek-v3-tiny"); }

    public static Path llama() { return repo().resolve("models/llama-tiny"); }

    public static Path tokenizerReference() { return repo().resolve("models/tokenizer-reference.json"); }
}
