package dev.pdserve.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** Offline generation: {@code pdserve generate --model DIR --prompt TEXT --max-tokens N}. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text offline from a prompt.")
final class GenerateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new UnsupportedOperationException("generate is being built (issue 2)");
    }
}
