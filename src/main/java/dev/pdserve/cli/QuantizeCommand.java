package dev.pdserve.cli;

import dev.pdserve.model.checkpoint.CheckpointQuantizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code pdserve quantize}: writes a W8A8 (msmodelslim layout) or FP8 (DeepSeek layout) copy of a checkpoint. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Write a quantized copy of a bf16 checkpoint: w8a8_dynamic (msmodelslim/vllm-ascend layout) or fp8 (DeepSeek's E4M3 with 128x128 block scales).")
final class QuantizeCommand implements Callable<Integer> {
    @Option(names = "--model", description = "The bf16/f16/f32 model folder (default: the built-in deepseek-v3-tiny).") Path model;
    @Option(names = "--out", required = true, description = "Folder to write (created).") Path out;
    @Option(names = "--method", defaultValue = "w8a8_dynamic", description = "w8a8_dynamic (default) or fp8.") String method;

    @Override
    public Integer call() throws Exception {
        Path in = model != null ? model : Defaults.builtInModel();
        CheckpointQuantizer.quantize(in, out, method);
        System.out.println("wrote " + method + " checkpoint of " + in + " to " + out);
        return 0;
    }
}
