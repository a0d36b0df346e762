package dev.pdserve.cli;

import dev.pdserve.proxy.InstanceAddress;
import dev.pdserve.proxy.ProxyConfig;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** `pdserve proxy` takes vllm-ascend's load-balance proxy flags. */
class ProxyCommandTest {
    private static ProxyConfig parse(String... args) {
        ProxyCommand cmd = new ProxyCommand();
        new CommandLine(cmd).parseArgs(args);
        return cmd.config();
    }

    @Test
    void defaultsMatchVllmAscend() {
        ProxyConfig c = parse();
        assertThat(c.host()).isEqualTo("127.0.0.1");
        assertThat(c.port()).isEqualTo(8000);
        assertThat(c.prefillers()).containsExactly(new InstanceAddress("localhost", 8001));
        assertThat(c.decoders()).containsExactly(new InstanceAddress("localhost", 8002));
        assertThat(c.maxRetries()).isEqualTo(3);
        assertThat(c.retryDelay()).isEqualTo(Duration.ofMillis(1));
        assertThat(c.adminApiKey()).isNull();
    }

    @Test
    void listsPairOrExpand() {
        ProxyConfig c = parse("--host", "0.0.0.0", "--port", "9000",
                "--prefiller-hosts", "10.0.0.1", "10.0.0.2", "--prefiller-ports", "8100", "8101",
                "--decoder-hosts", "10.0.0.3", "--decoder-ports", "8200", "8201", "8202",
                "--max-retries", "5", "--retry-delay", "0.2", "--admin-api-key", "k",
                "--health-interval", "2.5", "--request-timeout", "30",
                "--circuit-breaker-failures", "7", "--circuit-breaker-cooldown", "1.5");
        assertThat(c.host()).isEqualTo("0.0.0.0");
        assertThat(c.port()).isEqualTo(9000);
        assertThat(c.prefillers()).containsExactly(new InstanceAddress("10.0.0.1", 8100), new InstanceAddress("10.0.0.2", 8101));
        assertThat(c.decoders()).extracting(InstanceAddress::port).containsExactly(8200, 8201, 8202);
        assertThat(c.maxRetries()).isEqualTo(5);
        assertThat(c.retryDelay()).isEqualTo(Duration.ofMillis(200));
        assertThat(c.adminApiKey()).isEqualTo("k");
        assertThat(c.healthInterval()).isEqualTo(Duration.ofMillis(2500));
        assertThat(c.requestTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.breakerFailures()).isEqualTo(7);
        assertThat(c.breakerCooldown()).isEqualTo(Duration.ofMillis(1500));
    }

    @Test
    void clusterFileGivesTheInstancesAndTheProxyAddress() {
        String cluster = dev.pdserve.TestModels.repo().resolve("examples/two-nodes/cluster.json").toString();
        ProxyConfig c = parse("--cluster", cluster);
        assertThat(c.prefillers()).containsExactly(new InstanceAddress("10.0.0.1", 8100));
        assertThat(c.decoders()).containsExactly(new InstanceAddress("10.0.0.2", 8100));
        assertThat(c.host()).isEqualTo("10.0.0.2");
        assertThat(c.port()).isEqualTo(8000);
        assertThat(parse("--cluster", cluster, "--port", "9999", "--host", "127.0.0.1"))
                .extracting(ProxyConfig::port, ProxyConfig::host).containsExactly(9999, "127.0.0.1");
    }

    @Test
    void routingDefaultsToKvAwareAndTakesThePolicyAndThreshold() {
        assertThat(parse().routing()).isEqualTo("kv-aware");
        assertThat(parse().prefillThreshold()).isEqualTo(ProxyConfig.DEFAULT_PREFILL_THRESHOLD);
        ProxyConfig c = parse("--routing", "round-robin", "--prefill-threshold", "0");
        assertThat(c.routing()).isEqualTo("round-robin");
        assertThat(c.prefillThreshold()).isZero();
        assertThat(parse("--routing", "least-loaded").routing()).isEqualTo("least-loaded");
        assertThatThrownBy(() -> parse("--routing", "random")).hasMessageContaining("--routing must be least-loaded, round-robin or kv-aware");
        assertThatThrownBy(() -> parse("--prefill-threshold", "-1")).hasMessageContaining("--prefill-threshold cannot be negative");
    }

    @Test
    void decoderFlagsAloneMeanNoPrefillInstances() {
        assertThat(parse("--decoder-hosts", "127.0.0.1", "--decoder-ports", "8200").prefillers()).isEmpty();
        assertThat(parse("--decoder-ports", "8200", "8201").decoders()).hasSize(2);
        assertThat(parse("--decoder-ports", "8200", "--prefiller-ports", "8100").prefillers()).hasSize(1);
        assertThat(parse().prefillers()).hasSize(1); // vllm-ascend's defaults, 8001 and 8002
    }

    @Test
    void mismatchedListsAreAClearError() {
        assertThatThrownBy(() -> parse("--decoder-hosts", "a", "b", "--decoder-ports", "1", "2", "3"))
                .hasMessageContaining("number of decoder hosts (2) must match number of decoder ports (3)");
    }

    @Test
    void isASubcommandOfPdserve() {
        assertThat(Main.commandLine().getSubcommands()).containsKey("proxy");
    }
}
