package dev.pdserve.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A vLLM `serve` command line parses unchanged. */
class ServeCommandTest {
    @Test
    void acceptsVllmFlags() {
        ServeCommand c = new ServeCommand();
        new CommandLine(c).parseArgs("models/llama-tiny", "--host", "127.0.0.1", "--port", "9001", "--served-model-name", "m",
                "--max-model-len", "512", "--max-num-batched-tokens", "1024", "--max-num-seqs", "8", "--block-size", "32",
                "--seed", "3", "--api-key", "k", "--trust-remote-code", "--enforce-eager", "--gpu-memory-utilization", "0.5",
                "--tensor-parallel-size", "1", "--kv-cache-memory", "2GiB", "--no-enable-prefix-caching", "--threads", "2",
                "--kv-transfer-config", "{\"kv_connector\":\"PdConnector\",\"kv_role\":\"kv_producer\"}", "--dtype", "auto");
        assertThat(c.modelArg).isEqualTo(Path.of("models/llama-tiny"));
        assertThat(c.port).isEqualTo(9001);
        assertThat(c.maxModelLen).isEqualTo(512);
        assertThat(c.blockSize).isEqualTo(32);
        assertThat(c.enablePrefixCaching).isFalse();
        assertThat(c.enforceEager).isTrue();
        assertThat(c.kvCacheMemory).isEqualTo(2L << 30);
        assertThat(ServeCommand.parseKvTransferConfig(c.kvTransferConfig).get("kv_role").asText()).isEqualTo("kv_producer");

        ServeCommand defaults = new ServeCommand();
        new CommandLine(defaults).parseArgs();
        assertThat(defaults.port).isEqualTo(8000);
        assertThat(defaults.enablePrefixCaching).isTrue();
    }

    @Test
    void badSizeAndBadConfig() {
        assertThatThrownBy(() -> new CommandLine(new ServeCommand()).parseArgs("--kv-cache-memory", "lots"))
                .hasMessageContaining("Invalid value for option '--kv-cache-memory': 'lots' is not a size").hasMessageContaining("2GiB");
        assertThatThrownBy(() -> ServeCommand.parseKvTransferConfig("{kv_role")).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> ServeCommand.parseKvTransferConfig("[1]")).hasMessageContaining("JSON object");
    }

    @Test
    void clusterFileGivesTheInstancesPortsKvConfigThreadsAndModel() {
        String cluster = dev.pdserve.TestModels.repo().resolve("examples/two-nodes/cluster.json").toString();
        ServeCommand c = new ServeCommand();
        new CommandLine(c).parseArgs("--cluster", cluster, "--instance", "prefill-0");
        c.applyCluster();
        org.assertj.core.api.Assertions.assertThat(c.port).isEqualTo(8100);
        org.assertj.core.api.Assertions.assertThat(c.threads).isEqualTo(16);
        org.assertj.core.api.Assertions.assertThat(c.modelDir().toString()).endsWith("models/deepseek-v3-tiny");
        dev.pdserve.kv.KvTransferConfig kv = dev.pdserve.kv.KvTransferConfig.parse(c.kvTransferConfig);
        org.assertj.core.api.Assertions.assertThat(kv.role().wire()).isEqualTo("kv_producer");
        org.assertj.core.api.Assertions.assertThat(kv.notes()).isEmpty();

        ServeCommand overridden = new ServeCommand();
        new CommandLine(overridden).parseArgs("--cluster", cluster, "--instance", "decode-0", "--port", "9100", "--threads", "1");
        overridden.applyCluster();
        org.assertj.core.api.Assertions.assertThat(overridden.port).isEqualTo(9100);
        org.assertj.core.api.Assertions.assertThat(overridden.threads).isEqualTo(1);
        org.assertj.core.api.Assertions.assertThat(dev.pdserve.kv.KvTransferConfig.parse(overridden.kvTransferConfig).role().wire()).isEqualTo("kv_consumer");

        ServeCommand alone = new ServeCommand();
        new CommandLine(alone).parseArgs("--instance", "decode-0");
        org.assertj.core.api.Assertions.assertThatThrownBy(alone::applyCluster).hasMessageContaining("--cluster and --instance go together");
        ServeCommand unknown = new ServeCommand();
        new CommandLine(unknown).parseArgs("--cluster", cluster, "--instance", "decode-7");
        org.assertj.core.api.Assertions.assertThatThrownBy(unknown::applyCluster).hasMessageContaining("decode-7");
    }
}
