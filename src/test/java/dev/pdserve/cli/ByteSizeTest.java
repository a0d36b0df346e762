package dev.pdserve.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** One reading of sizes for every size flag: vLLM's human_readable_int and Hugging Face's max_shard_size. */
class ByteSizeTest {
    @Test
    void namedUnitsAreIecBinaryOrSiDecimalInAnyCase() {
        assertThat(ByteSize.parse("2GiB")).isEqualTo(2L << 30);
        assertThat(ByteSize.parse("512mib")).isEqualTo(512L << 20);
        assertThat(ByteSize.parse("1.5GiB")).isEqualTo(3L << 29);
        assertThat(ByteSize.parse("4KiB")).isEqualTo(4096);
        assertThat(ByteSize.parse("1TiB")).isEqualTo(1L << 40);
        assertThat(ByteSize.parse("2GB")).isEqualTo(2_000_000_000L);
        assertThat(ByteSize.parse("500mb")).isEqualTo(500_000_000L);
        assertThat(ByteSize.parse("1.5kB")).isEqualTo(1500);
        assertThat(ByteSize.parse("3 TB")).isEqualTo(3_000_000_000_000L);
    }

    @Test
    void singleLettersAreVllmsLowercaseDecimalUppercaseBinary() {
        assertThat(ByteSize.parse("2g")).isEqualTo(2_000_000_000L);
        assertThat(ByteSize.parse("25.6k")).isEqualTo(25_600);
        assertThat(ByteSize.parse("2G")).isEqualTo(2L << 30);
        assertThat(ByteSize.parse("512K")).isEqualTo(512L << 10);
        assertThat(ByteSize.parse("1M")).isEqualTo(1L << 20);
        assertThatThrownBy(() -> ByteSize.parse("1.5G"))
                .hasMessageContaining("whole number").hasMessageContaining("1.5g (decimal) or 1.5GiB");
    }

    @Test
    void plainNumbersAreBytes() {
        assertThat(ByteSize.parse("0")).isZero();
        assertThat(ByteSize.parse("1073741824")).isEqualTo(1L << 30);
        assertThat(ByteSize.parse("1_000")).isEqualTo(1000);
        assertThat(ByteSize.parse("100B")).isEqualTo(100);
        assertThat(ByteSize.parse("2.5")).isEqualTo(2);
    }

    @Test
    void badSizesSayWhatASizeLooksLike() {
        for (String bad : new String[] {"lots", "", "-1GiB", "2XB", "GiB", "1e9"}) {
            assertThatThrownBy(() -> ByteSize.parse(bad)).as(bad).hasMessageContaining("is not a size").hasMessageContaining("2GiB");
        }
        assertThatThrownBy(() -> ByteSize.parse("99999999TiB")).hasMessageContaining("too large");
    }

    @Test
    void everySizeFlagReadsTheSame() {
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs("--kv-cache-memory", "2GB");
        RandomModelCommand random = new RandomModelCommand();
        new CommandLine(random).parseArgs("--out", "x", "--max-shard-size", "2GB");
        BenchCompareCommand compare = new BenchCompareCommand();
        new CommandLine(compare).parseArgs("--kv-cache-memory", "2GB");
        assertThat(serve.kvCacheMemory).isEqualTo(2_000_000_000L);
        assertThat(random.maxShardSize).isEqualTo(2_000_000_000L);
        assertThat(compare.kvCacheMemory).isEqualTo(2_000_000_000L);

        BenchCompareCommand defaults = new BenchCompareCommand();
        new CommandLine(defaults).parseArgs();
        assertThat(defaults.kvCacheMemory).isEqualTo(256L << 20);
    }
}
