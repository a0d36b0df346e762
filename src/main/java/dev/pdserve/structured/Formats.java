package dev.pdserve.structured;

import java.util.Map;

/**
 * String formats as patterns of their content. Each admits only values a strict validator accepts
 * (a conservative subset where the full syntax is baroque: no February 29th, UTC offsets within
 * ±18:00 as java.time takes them, e-mail local parts of at most 51 characters and no quoting,
 * hostname labels of at most 20 characters, e-mail domains under a few well-known top-level domains,
 * since validators check those against the list).
 */
final class Formats {
    private Formats() {}

    private static final String DATE = "\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))";
    private static final String TIME = "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?(?:Z|[+-](?:(?:0\\d|1[0-7]):[0-5]\\d|18:00))";
    private static final String LABEL = "[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?";
    private static final String OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";

    private static final Map<String, String> PATTERNS = Map.of(
            "date", DATE,
            "time", TIME,
            "date-time", DATE + "T" + TIME,
            "uuid", "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "email", "[A-Za-z0-9]{1,12}(?:[._+-][A-Za-z0-9]{1,12}){0,3}@" + LABEL + "(?:\\." + LABEL + "){0,2}\\.(?:com|org|net|edu|gov|io|dev|info|de|fr|uk|jp|cn)",
            "hostname", LABEL + "(?:\\." + LABEL + ")*",
            "ipv4", OCTET + "(?:\\." + OCTET + "){3}");

    static Expr of(String format, String at) {
        String p = PATTERNS.get(format);
        if (p == null) {
            throw new ConstraintException("JSON schema at " + at + ": the string format '" + format + "' is not supported (supported: "
                    + String.join(", ", new java.util.TreeSet<>(PATTERNS.keySet())) + ")");
        }
        return RegexParser.parse(p);
    }
}
