package dev.pdserve.launch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pdserve.kv.KvTransferConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Setups and flags of `bench compare` that need no running instance. */
class ComparisonTest {
    @Test
    void bothSidesGetTheSameCores() {
        List<Comparison.Setup> two = Comparison.sameCores(2, true);
        assertThat(two.get(0).colocated()).isEqualTo(new Placement("0-1", 2));
        assertThat(two.get(1).prefill()).isEqualTo(new Placement("0", 1));
        assertThat(two.get(1).decode()).isEqualTo(new Placement("1", 1));
        assertThat(two).extracting(Comparison.Setup::label).containsExactly("colocated-2c", "pd-1p1d");

        List<Comparison.Setup> five = Comparison.sameCores(5, true);
        assertThat(five.get(0).colocated()).isEqualTo(new Placement("0-4", 5));
        assertThat(five.get(1).prefill()).isEqualTo(new Placement("0-2", 3));
        assertThat(five.get(1).decode()).isEqualTo(new Placement("3-4", 2));

        List<Comparison.Setup> unpinned = Comparison.sameCores(4, false);
        assertThat(unpinned.get(0).colocated()).isEqualTo(new Placement(null, 4));
        assertThat(unpinned.get(1).decode()).isEqualTo(new Placement(null, 2));
        assertThatThrownBy(() -> Comparison.sameCores(1, true)).hasMessageContaining("at least 2 cores");
    }

    @Test
    void kvTransferConfigHasVllmsFieldsAndAPrivateToken(@TempDir Path dir) throws Exception {
        String previous = Files.readString(ClusterToken.write(dir));
        Path token = ClusterToken.write(dir);
        assertThat(Files.readString(token)).hasSize(64).matches("[0-9a-f]+").isNotEqualTo(previous); // fresh each run
        assertThat(Files.getPosixFilePermissions(token)).containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        JsonNode cfg = new ObjectMapper().readTree(LocalDeployment.kvTransferConfig("kv_consumer", 4321, "decode-0", token));
        assertThat(cfg.path("kv_connector").asText()).isEqualTo("PdTcpConnector");
        assertThat(cfg.path("kv_role").asText()).isEqualTo("kv_consumer");
        assertThat(cfg.path("kv_ip").asText()).isEqualTo("127.0.0.1");
        assertThat(cfg.path("kv_port").asInt()).isEqualTo(4321);
        assertThat(cfg.path("engine_id").asText()).isEqualTo("decode-0");
        assertThat(cfg.path("kv_connector_extra_config").path("cluster_token_file").asText()).isEqualTo(token.toString());
        // What `serve` will make of it: no field it does not know, the token read from the file.
        KvTransferConfig parsed = KvTransferConfig.parse(cfg.toString());
        assertThat(parsed.notes()).isEmpty();
        assertThat(parsed.port()).isEqualTo(4321);
        assertThat(parsed.clusterToken()).isEqualTo(Files.readString(token));
    }

    @Test
    void badFlagsFailBeforeStartingAnything() {
        CliCapture workload = CliCapture.run("bench", "compare", "--workload", "bursty");
        assertThat(workload.exitCode()).isEqualTo(1);
        assertThat(workload.err()).contains("unknown --workload 'bursty' (use mixed or random)");
        assertThat(workload.startedPids()).isEmpty();

        CliCapture cores = CliCapture.run("bench", "compare", "--cores", "1", "--no-pin");
        assertThat(cores.exitCode()).isEqualTo(1);
        assertThat(cores.err()).contains("at least 2 cores");

        CliCapture rate = CliCapture.run("bench", "compare", "--request-rate", "fast");
        assertThat(rate.exitCode()).isEqualTo(1);
        assertThat(rate.err()).contains("--request-rate must be a positive number or inf");
    }
}
