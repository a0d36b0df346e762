package dev.pdserve.cluster;

import dev.pdserve.kv.KvPeerInfo;
import dev.pdserve.kv.ModelFingerprint;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Doctor's cross-producer row: every producer's KV descriptor must agree field by field (what a
 * consumer's HELLO is checked against), and the model fingerprint must be the cluster file's model
 * folder's when this node has it. The value most producers hold is the reference; with no strict
 * majority nobody can tell who is wrong, so every holder fails and the fix lists all values.
 */
final class KvDescriptorAgreement {
    static final String CHECK = "kv_agree";

    private KvDescriptorAgreement() {}

    private record Field(String name, Function<KvPeerInfo, Object> value, String fix) {}

    private static final List<Field> FIELDS = List.of(
            new Field("protocol version", KvPeerInfo::protocolVersion, "run the same pdserve build on every node"),
            new Field("model fingerprint", KvPeerInfo::modelFingerprint, "serve the same model folder on every instance (same config.json and weight shapes)"),
            new Field("block size", KvPeerInfo::blockSize, "start every instance with the same --block-size"),
            new Field("KV layout", KvPeerInfo::kvLayout, "serve the same model on every instance (the KV layout follows from its architecture)"),
            new Field("KV dtype", KvPeerInfo::dtype, "run every instance on CPUs of the same byte order"),
            new Field("layer count", KvPeerInfo::numLayers, "serve the same model on every instance"),
            new Field("KV entry floats", KvPeerInfo::entryFloats, "serve the same model on every instance"));

    /** The fingerprint of the cluster file's {@code model} folder if this node has it, else why not. */
    record Reference(Optional<String> fingerprint, String note) {
        static Reference of(ClusterSpec spec) {
            if (spec.model().isEmpty()) return new Reference(Optional.empty(), "the cluster file names no model folder");
            String dir = spec.model().get();
            if (!Files.isDirectory(Path.of(dir))) return new Reference(Optional.empty(), "model folder " + dir + " is not on this node");
            try {
                return new Reference(Optional.of(ModelFingerprint.of(Path.of(dir))), "model folder " + dir);
            } catch (RuntimeException e) {
                return new Reference(Optional.empty(), "model folder " + dir + " cannot be fingerprinted (" + e.getMessage() + ")");
            }
        }
    }

    static List<CheckResult> rows(List<KvDoctorCheck.Probed> probed, Reference ref) {
        List<KvDoctorCheck.Probed> told = probed.stream().filter(p -> p.info().isPresent()).toList();
        List<CheckResult> out = new ArrayList<>();
        for (KvDoctorCheck.Probed p : told) out.add(row(p, told, ref));
        return out;
    }

    private static CheckResult row(KvDoctorCheck.Probed me, List<KvDoctorCheck.Probed> all, Reference ref) {
        String id = me.instance().id();
        KvPeerInfo mine = me.info().orElseThrow();
        if (all.size() == 1 && ref.fingerprint().isEmpty()) {
            return CheckResult.skip(id, CHECK, "only one producer answered and " + ref.note() + ": nothing to compare its descriptor with");
        }
        List<String> details = new ArrayList<>(), fixes = new ArrayList<>();
        for (Field f : FIELDS) {
            Map<Object, List<String>> holders = new LinkedHashMap<>();
            for (KvDoctorCheck.Probed p : all) holders.computeIfAbsent(f.value.apply(p.info().orElseThrow()), k -> new ArrayList<>()).add(p.instance().id());
            Object v = f.value.apply(mine);
            if (f.name.equals("model fingerprint") && ref.fingerprint().isPresent()) {
                if (!ref.fingerprint().get().equals(v)) {
                    details.add("model fingerprint " + v + ", but the " + ref.note() + " (cluster file) is " + ref.fingerprint().get());
                    fixes.add("serve the cluster file's " + ref.note() + " on every instance (or correct \"model\" in the cluster file)");
                }
                continue;
            }
            if (holders.size() == 1) continue;
            Optional<Object> majority = majority(holders);
            if (majority.isPresent() && majority.get().equals(v)) continue;
            details.add(f.name + " " + v + ", but " + others(holders, v));
            fixes.add(f.fix + " (" + id + " has " + v + ", " + (majority.isPresent() ? "cluster majority " + majority.get() : others(holders, v)) + ")");
        }
        if (!details.isEmpty()) return CheckResult.fail(id, CHECK, String.join("; ", details), String.join("; ", fixes));
        String agreed = "block size " + mine.blockSize() + ", model " + mine.modelFingerprint() + ", layout " + mine.kvLayout()
                + ", dtype " + mine.dtype() + ", " + mine.numLayers() + " layers";
        String scope = all.size() == 1 ? "the only producer" : "as " + (agreeAll(all) ? "all " : "most of the ") + all.size() + " producers";
        String model = ref.fingerprint().isPresent() ? "; matches the " + ref.note() : "; fingerprint not checked against a folder: " + ref.note();
        return CheckResult.pass(id, CHECK, agreed + " (" + scope + ")" + model);
    }

    private static boolean agreeAll(List<KvDoctorCheck.Probed> all) {
        KvPeerInfo first = all.getFirst().info().orElseThrow();
        return all.stream().allMatch(p -> KvPeerInfo.incompatibility(first, p.info().orElseThrow()) == null);
    }

    private static Optional<Object> majority(Map<Object, List<String>> holders) {
        int top = holders.values().stream().mapToInt(List::size).max().orElse(0);
        List<Object> tops = holders.entrySet().stream().filter(e -> e.getValue().size() == top).map(Map.Entry::getKey).toList();
        return tops.size() == 1 ? Optional.of(tops.getFirst()) : Optional.empty();
    }

    private static String others(Map<Object, List<String>> holders, Object mine) {
        List<String> parts = new ArrayList<>();
        holders.forEach((v, ids) -> {
            if (!v.equals(mine)) parts.add(String.join(", ", ids) + (ids.size() == 1 ? " has " : " have ") + v);
        });
        return String.join("; ", parts);
    }
}
