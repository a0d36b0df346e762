package dev.pdserve.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every flag of `vllm serve` (vLLM's vllm/entrypoints/openai/cli_args.py, vllm/engine/arg_utils.py and
 * vllm/entrypoints/cli/serve.py, read from the public repository) parses on `pdserve serve`, and each
 * one pdserve does not honour as vLLM does gives exactly one log line.
 */
class VllmFlagsTest {
    /** "FLAG VALUE..." per line; a switch has no value. The values are ones vLLM takes. */
    private static final String EVERY_FLAG = """
            --host 127.0.0.1
            --port 8000
            --api-server-count 1
            --uvicorn-log-level info
            --disable-uvicorn-access-log
            --allow-credentials
            --allowed-origins ["*"]
            --allowed-methods ["*"]
            --allowed-headers ["*"]
            --api-key k
            --chat-template-content-format auto
            --trust-request-chat-template
            --response-role assistant
            --enable-ssl-refresh
            --ssl-cert-reqs 0
            --root-path /api
            --return-tokens-as-token-ids
            --disable-frontend-multiprocessing
            --enable-request-id-headers
            --enable-auto-tool-choice
            --exclude-tools-when-tool-choice-none
            --tool-call-parser hermes
            --log-config-file /tmp/log.json
            --max-log-len 100
            --disable-fastapi-docs
            --enable-prompt-tokens-details
            --enable-server-load-tracking
            --enable-force-include-usage
            --enable-tokenizer-info-endpoint
            --enable-log-outputs
            --h11-max-incomplete-event-size 4194304
            --h11-max-header-count 256
            --log-error-stack
            --tokens-only
            --model models/deepseek-v3-tiny
            --runner generate
            --convert none
            --task generate
            --tokenizer models/deepseek-v3-tiny
            --tokenizer-mode auto
            --trust-remote-code
            --dtype auto
            --seed 0
            --allowed-local-media-path /tmp
            --allowed-media-domains a.example b.example
            --revision main
            --code-revision main
            --tokenizer-revision main
            --max-model-len 1k
            --quantization ascend
            --enforce-eager
            --max-logprobs 20
            --logprobs-mode raw_logprobs
            --disable-sliding-window
            --disable-cascade-attn
            --skip-tokenizer-init
            --enable-prompt-embeds
            --served-model-name a b
            --config-format auto
            --hf-token
            --pooler-config {}
            --override-pooler-config {}
            --logits-processor-pattern x
            --generation-config auto
            --override-generation-config {"temperature":0.5}
            --enable-sleep-mode
            --model-impl auto
            --override-attention-dtype float32
            --io-processor-plugin p
            --load-format auto
            --download-dir /tmp
            --safetensors-load-strategy lazy
            --model-loader-extra-config {}
            --ignore-patterns original/**/*
            --use-tqdm-on-load
            --pt-load-map-location cpu
            --reasoning-parser deepseek_r1
            --guided-decoding-backend xgrammar
            --guided-decoding-disable-fallback true
            --guided-decoding-disable-any-whitespace true
            --guided-decoding-disable-additional-properties true
            --structured-outputs-config {}
            --distributed-executor-backend mp
            --pipeline-parallel-size 2
            --tensor-parallel-size 16
            --decode-context-parallel-size 1
            --data-parallel-size 1
            --data-parallel-rank 0
            --data-parallel-start-rank 0
            --data-parallel-size-local 1
            --data-parallel-address 127.0.0.1
            --data-parallel-rpc-port 13356
            --data-parallel-backend mp
            --data-parallel-hybrid-lb
            --enable-expert-parallel
            --all2all-backend naive
            --enable-dbo
            --dbo-decode-token-threshold 32
            --dbo-prefill-token-threshold 512
            --disable-nccl-for-dp-synchronization
            --enable-eplb
            --eplb-config {}
            --expert-placement-strategy linear
            --num-redundant-experts 0
            --eplb-window-size 1000
            --eplb-step-interval 3000
            --eplb-log-balancedness
            --max-parallel-loading-workers 2
            --ray-workers-use-nsight
            --disable-custom-all-reduce
            --worker-cls auto
            --enable-multimodal-encoder-data-parallel
            --block-size 16
            --gpu-memory-utilization 0.9
            --kv-cache-memory-bytes 1G
            --swap-space 4
            --kv-cache-dtype auto
            --num-gpu-blocks-override 100
            --enable-prefix-caching
            --prefix-caching-hash-algo sha256
            --cpu-offload-gb 0
            --calculate-kv-scales
            --kv-sharing-fast-prefill
            --mamba-cache-dtype auto
            --mamba-ssm-cache-dtype auto
            --mamba-block-size 16
            --limit-mm-per-prompt {"image":0}
            --enable-mm-embeds
            --media-io-kwargs {}
            --mm-processor-kwargs {}
            --mm-processor-cache-gb 4
            --disable-mm-preprocessor-cache
            --mm-processor-cache-type lru
            --mm-shm-cache-max-object-size-mb 128
            --mm-encoder-tp-mode weights
            --mm-encoder-attn-backend TORCH_SDPA
            --interleave-mm-strings
            --skip-mm-profiling
            --video-pruning-rate 0.5
            --enable-lora
            --max-loras 1
            --max-lora-rank 16
            --lora-extra-vocab-size 256
            --lora-dtype auto
            --max-cpu-loras 1
            --fully-sharded-loras
            --default-mm-loras {}
            --show-hidden-metrics-for-version 0.10
            --otlp-traces-endpoint http://127.0.0.1:4317
            --collect-detailed-traces all
            --max-num-batched-tokens 32k
            --max-num-seqs 64
            --max-num-partial-prefills 1
            --max-long-partial-prefills 1
            --long-prefill-token-threshold 0
            --num-lookahead-slots 0
            --scheduling-policy fcfs
            --enable-chunked-prefill
            --disable-chunked-mm-input
            --scheduler-cls vllm.v1.core.sched.scheduler.Scheduler
            --disable-hybrid-kv-cache-manager
            --async-scheduling
            --cudagraph-capture-sizes 1 2 4
            --cuda-graph-sizes 8
            --max-cudagraph-capture-size 512
            --speculative-config {"method":"ngram"}
            --kv-transfer-config {"kv_connector":"NixlConnector","kv_role":"kv_both"}
            --kv-events-config {}
            --compilation-config {"level":0}
            --additional-config {"torchair_graph_config":{"enabled":"true","graph_batch_sizes":["1",2]}}
            --disable-log-stats
            --aggregate-engine-logging
            --enable-log-requests
            --disable-log-requests
            """;

    /** `pdserve serve ARGS` as Main parses it; the serve command's part. */
    private static ParseResult parse(List<String> args) {
        List<String> all = new ArrayList<>(List.of("serve"));
        all.addAll(args);
        return Main.commandLine().parseArgs(all.toArray(String[]::new)).subcommand();
    }

    private static List<String> tokens(String line) {
        int space = line.indexOf(' ');
        return space < 0 ? List.of(line) : new ArrayList<>(List.of(line.substring(0, space))) {{
            addAll(line.startsWith("--allowed-media-domains") || line.startsWith("--served-model-name") || line.startsWith("--cudagraph-capture-sizes")
                    ? Arrays.asList(line.substring(space + 1).split(" ")) : List.of(line.substring(space + 1)));
        }};
    }

    @Test
    void everyVllmServeFlagParsesAndEachOneNotHonouredIsOneLogLine() {
        List<String> lines = EVERY_FLAG.lines().filter(l -> !l.isBlank()).toList();
        List<String> all = new ArrayList<>();
        for (String line : lines) {
            List<String> args = tokens(line);
            parse(args); // alone
            all.addAll(args);
        }
        ParseResult parsed = parse(all); // and all together, as one command line
        ServeCommand cmd = (ServeCommand) parsed.commandSpec().userObject();
        List<String> notes = cmd.compatibilityNotes();
        for (VllmFlags.Flag f : VllmFlags.FLAGS) {
            if (!parsed.hasMatchedOption(f.name()) || !parsed.matchedOption(f.name()).hidden()) continue;
            assertThat(notes).as(f.name()).filteredOn(n -> n.startsWith(f.name() + " ") || n.startsWith(f.name() + ":")).hasSize(1);
        }
        assertThat(notes).anyMatch(n -> n.startsWith("--data-parallel-size-local 1: one engine on this node"))
                .anyMatch(n -> n.startsWith("--swap-space 4.0: the KV cache is in host memory already"))
                .anyMatch(n -> n.startsWith("--served-model-name a b: pdserve answers to the first name, a"))
                .anyMatch(n -> n.startsWith("--additional-config: torchair_graph_config.enabled=true, torchair_graph_config.graph_batch_sizes=[1,2]: "))
                .anyMatch(n -> n.startsWith("--enable-dbo: "));
        assertThat(cmd.maxModelLen).isEqualTo(1000); // vLLM's human_readable_int: k is 1000, K 1024
        assertThat(cmd.maxNumBatchedTokens).isEqualTo(32_000);
        assertThat(cmd.kvCacheMemoryBytes).isEqualTo(1L << 30);
        assertThat(cmd.servedModelNames).containsExactly("a", "b");
        assertThat(cmd.tensorParallelSize).isEqualTo(16);
    }

    @Test
    void shortNamesNegationsAndUnderscoresAsVllmTakesThem() {
        ParseResult p = parse(List.of(VllmFlags.dashes(new String[]{"-tp", "2", "-dp", "1", "-q", "w8a8", "--no-enable-chunked-prefill",
                "--max_num_seqs", "8", "--data_parallel_size_local=1", "-O", "{\"level\":3}"})));
        ServeCommand cmd = (ServeCommand) p.commandSpec().userObject();
        assertThat(cmd.tensorParallelSize).isEqualTo(2);
        assertThat(cmd.quantization).isEqualTo("w8a8");
        assertThat(cmd.maxNumSeqs).isEqualTo(8);
        assertThat(cmd.compatibilityNotes()).anyMatch(n -> n.startsWith("--enable-chunked-prefill (off): "))
                .anyMatch(n -> n.startsWith("--data-parallel-size-local 1: "))
                .anyMatch(n -> n.startsWith("--compilation-config {\"level\":3}: "));
    }

    @Test
    void valuesPdserveCannotHonourAreRefusedWithWhy() {
        String[][] refused = {
                {"--data-parallel-size", "4"}, {"--data-parallel-size-local", "2"}, {"--data-parallel-rank", "1"}, {"--headless"}, {"--api-server-count", "0"},
                {"--uds", "/tmp/s"}, {"--ssl-keyfile", "k.pem"}, {"--ssl-certfile", "c.pem"}, {"--lora-modules", "a=/x"},
                {"--middleware", "m.f"}, {"--config", "c.yaml"}, {"--load-format", "dummy"},
                {"--hf-overrides", "{}"}, {"--rope-scaling", "{}"}, {"--task", "embed"}, {"--worker-cls", "my.Worker"}};
        for (String[] args : refused) {
            ServeCommand cmd = (ServeCommand) parse(List.of(args)).commandSpec().userObject();
            assertThatThrownBy(cmd::compatibilityNotes).as(String.join(" ", args)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith(args[0]).hasMessageContaining("pdserve");
        }
        ServeCommand dp = (ServeCommand) parse(List.of("--data-parallel-size", "2")).commandSpec().userObject();
        assertThatThrownBy(dp::compatibilityNotes).hasMessage("--data-parallel-size 2: pdserve runs one engine per process, so data parallel size "
                + "must be 1; start one `pdserve serve` per replica and put `pdserve proxy` in front of them");
        assertThatThrownBy(() -> parse(List.of("--data-parallel-size", "two"))).hasMessageContaining("'two' is not an int");
    }

    @Test
    void declaredFlagsAreNotAddedTwiceAndStayOutOfTheTable() {
        CommandLine serve = Main.commandLine().getSubcommands().get("serve");
        assertThat(serve.getCommandSpec().findOption("--tensor-parallel-size").hidden()).isFalse(); // ServeCommand's own
        assertThat(serve.getCommandSpec().findOption("--swap-space").hidden()).isTrue(); // the table's
        assertThat(serve.getUsageMessage()).doesNotContain("--swap-space");
    }
}
