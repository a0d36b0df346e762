package dev.pdserve.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one reading of a size flag ({@code --kv-cache-memory}, {@code --max-shard-size}), with the
 * meaning vLLM and Hugging Face give the same text: a plain number is bytes; {@code KiB MiB GiB TiB}
 * are binary and {@code KB MB GB TB} decimal, in any case (Hugging Face's {@code max_shard_size});
 * a single letter follows vLLM's {@code human_readable_int}: {@code k m g t} decimal, {@code K M G T}
 * binary, and a binary letter takes whole numbers only ("1.5G" is refused: 1.5g or 1.5GiB says
 * which is meant). So "2GB" and "2g" are 2e9 bytes, "2GiB" and "2G" are 2^31.
 */
final class ByteSize {
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([a-zA-Z]*)");

    private ByteSize() {}

    static long parse(String text) {
        Matcher m = SIZE.matcher(text.strip().replace("_", ""));
        if (!m.matches()) throw new IllegalArgumentException(notASize(text));
        String number = m.group(1), unit = m.group(2);
        long multiplier = switch (unit) {
            case "", "b", "B" -> 1;
            case "k" -> 1_000L;
            case "m" -> 1_000_000L;
            case "g" -> 1_000_000_000L;
            case "t" -> 1_000_000_000_000L;
            case "K" -> 1L << 10;
            case "M" -> 1L << 20;
            case "G" -> 1L << 30;
            case "T" -> 1L << 40;
            default -> switch (unit.toLowerCase(Locale.ROOT)) {
                case "kb" -> 1_000L;
                case "mb" -> 1_000_000L;
                case "gb" -> 1_000_000_000L;
                case "tb" -> 1_000_000_000_000L;
                case "kib" -> 1L << 10;
                case "mib" -> 1L << 20;
                case "gib" -> 1L << 30;
                case "tib" -> 1L << 40;
                default -> throw new IllegalArgumentException(notASize(text));
            };
        };
        if (unit.length() == 1 && Character.isUpperCase(unit.charAt(0)) && !unit.equals("B") && number.contains(".")) {
            throw new IllegalArgumentException("'" + text + "': a binary unit like " + unit + " takes a whole number (as vLLM reads it); "
                    + "did you mean " + number + unit.toLowerCase(Locale.ROOT) + " (decimal) or " + number + unit + "iB?");
        }
        BigDecimal bytes = new BigDecimal(number).multiply(BigDecimal.valueOf(multiplier));
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) throw new IllegalArgumentException("'" + text + "' is too large");
        return bytes.longValue(); // whole bytes: a fraction is dropped, as vLLM's int() does
    }

    private static String notASize(String text) {
        return "'" + text + "' is not a size: give bytes or a number with a unit, e.g. 2GiB or 512MiB (binary), 2GB (decimal)";
    }

    /** For picocli options: a bad value is reported with the option's name. */
    static final class Converter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return parse(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** A count flag vLLM reads with human_readable_int ({@code --max-model-len 32k}, {@code --max-num-batched-tokens 2K}). */
    static final class IntConverter implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            long v = new Converter().convert(value);
            if (v > Integer.MAX_VALUE) throw new TypeConversionException("'" + value + "' is too large");
            return (int) v;
        }
    }
}
