package dev.pdserve.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Follows every instance's {@code GET /kv_events} stream into the {@link PrefixIndex}: one virtual
 * thread per instance in the pool, started and stopped as instances come and go. A stream that
 * ends, stalls past {@value #IDLE_SECONDS} s (instances send a heartbeat each second), changes epoch
 * or skips a batch drops that instance's copy; the thread reconnects with backoff and starts over
 * from a fresh snapshot. An instance without the endpoint (vLLM, or events off) is asked again
 * every {@value #UNSUPPORTED_RETRY_SECONDS} s and meanwhile routed by load only.
 */
final class KvEventSubscriber implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger("dev.pdserve.proxy");
    static final String PATH = "/kv_events";
    private static final int IDLE_SECONDS = 5;
    private static final int UNSUPPORTED_RETRY_SECONDS = 2;

    private final InstancePool pool;
    private final PrefixIndex index;
    private final Upstream upstream;
    private final Upstream.Forward fwd;
    private final ObjectMapper json = new ObjectMapper();
    private final Map<Instance, Thread> followers = new ConcurrentHashMap<>();
    private final Map<Instance, InputStream> open = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("proxy-kv-events").factory());
    private volatile boolean closed;

    KvEventSubscriber(InstancePool pool, PrefixIndex index, Upstream upstream, ProxyConfig config, Loops loops) {
        this.pool = pool;
        this.index = index;
        this.upstream = upstream;
        this.fwd = new Upstream.Forward(null, config.upstreamApiKey == null ? null : "Bearer " + config.upstreamApiKey, loops.id);
        timer.scheduleWithFixedDelay(this::sync, 0, 200, TimeUnit.MILLISECONDS);
    }

    /** One follower per instance in the pool. */
    private void sync() {
        List<Instance> now = new ArrayList<>();
        for (InstanceType t : InstanceType.values()) now.addAll(pool.list(t));
        for (Instance i : now) {
            if (followers.containsKey(i)) continue;
            // In the map before it starts: follow() runs while following(i), and a thread started inside
            // computeIfAbsent could look before the mapping is visible and end at once, never to restart.
            Thread t = Thread.ofVirtual().name("kv-events " + i).unstarted(() -> follow(i));
            if (followers.putIfAbsent(i, t) == null) t.start();
        }
        for (Instance i : List.copyOf(followers.keySet())) {
            if (!now.contains(i)) {
                Thread t = followers.remove(i);
                stopStream(i);
                if (t != null) t.interrupt();
            }
        }
    }

    private boolean following(Instance i) {
        return !closed && followers.containsKey(i);
    }

    private void follow(Instance i) {
        long backoffMs = 100;
        while (following(i)) {
            String why;
            try {
                why = stream(i);
                backoffMs = 100; // it worked for a while: reconnect at once
            } catch (IOException e) {
                why = PdHandler.describe(e);
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException e) {
                why = "bad event stream: " + e;
            } finally {
                open.remove(i);
                index.drop(i);
            }
            if (!following(i)) break;
            String reason = why;
            long wait = reason.startsWith("unsupported") ? UNSUPPORTED_RETRY_SECONDS * 1000L : backoffMs;
            LOG.info(i + ": KV events: " + reason + "; no prefix index for it until it resubscribes in " + wait + " ms");
            try {
                Thread.sleep(wait);
            } catch (InterruptedException e) {
                break;
            }
            backoffMs = Math.min(2000, backoffMs * 2);
        }
        index.drop(i);
    }

    /** Reads one subscription until it ends; returns why it ended. */
    private String stream(Instance i) throws IOException, InterruptedException {
        HttpResponse<InputStream> r = upstream.getStreaming(i.address, PATH, fwd, Duration.ofSeconds(IDLE_SECONDS),
                Duration.ofSeconds(IDLE_SECONDS));
        try (InputStream in = r.body()) {
            if (r.statusCode() != 200) {
                if (r.statusCode() == 404) return "unsupported (HTTP 404)";
                return "HTTP " + r.statusCode();
            }
            open.put(i, in);
            if (!following(i)) return "stopped";
            BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String first = lines.readLine();
            if (first == null) return "closed before its snapshot";
            JsonNode snap = json.readTree(first);
            if (!"snapshot".equals(snap.path("type").asText())) return "first line is not a snapshot";
            long epoch = snap.path("epoch").asLong();
            List<Long> hashes = new ArrayList<>();
            for (JsonNode b : snap.path("blocks")) hashes.add(b.path("block_hashes").path(0).asLong());
            index.snapshot(i, epoch, snap.path("block_size").asInt(), snap.path("seq").asLong(), hashes);
            LOG.info(i + ": KV events epoch " + epoch + ", " + hashes.size() + " blocks in its prefix cache");
            String line;
            while ((line = lines.readLine()) != null) {
                JsonNode n = json.readTree(line);
                String type = n.path("type").asText();
                if (n.path("epoch").asLong() != epoch) return "epoch changed";
                if (type.equals("batch")) {
                    if (!index.apply(i, epoch, n.path("seq").asLong(), changes(n.path("events")))) return "batch out of sequence";
                } else if (!type.equals("heartbeat")) {
                    return "unknown line type '" + type + "'";
                }
            }
            return "stream ended";
        }
    }

    private static List<PrefixIndex.Change> changes(JsonNode events) {
        List<PrefixIndex.Change> out = new ArrayList<>();
        for (JsonNode e : events) {
            List<Long> hashes = new ArrayList<>();
            for (JsonNode h : e.path("block_hashes")) hashes.add(h.asLong());
            switch (e.path("type").asText()) {
                case "BlockStored" -> out.add(new PrefixIndex.Change(false, hashes, List.of()));
                case "BlockRemoved" -> out.add(new PrefixIndex.Change(false, List.of(), hashes));
                case "AllBlocksCleared" -> out.add(new PrefixIndex.Change(true, List.of(), List.of()));
                default -> { } // a newer event kind says nothing about which blocks are held
            }
        }
        return out;
    }

    private void stopStream(Instance i) {
        InputStream in = open.remove(i);
        if (in == null) return;
        try {
            in.close();
        } catch (IOException ignored) {
            // closing is all we wanted
        }
    }

    @Override
    public void close() {
        closed = true;
        timer.shutdownNow();
        for (Instance i : List.copyOf(followers.keySet())) {
            Thread t = followers.remove(i);
            stopStream(i);
            if (t != null) t.interrupt();
        }
    }
}
