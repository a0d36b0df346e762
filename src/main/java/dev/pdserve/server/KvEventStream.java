package dev.pdserve.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pdserve.engine.KvEvents;
import dev.pdserve.http.ApiException;
import dev.pdserve.http.HttpEdge;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/**
 * {@code GET /kv_events}: the engine's KV events as one long-lived stream of JSON lines (vLLM
 * publishes the same events over ZMQ; HTTP needs no other library and passes where the API does).
 * The first line is the snapshot of every block held, then one line per engine step that stored or
 * removed blocks, and a heartbeat line each second without one, so a subscriber notices a dead
 * instance. Every line carries the engine's epoch and the batch sequence number. Field names follow
 * vLLM's {@code BlockStored}, {@code BlockRemoved} and {@code AllBlocksCleared}.
 */
final class KvEventStream {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final long HEARTBEAT_MS = 1000;

    private final KvEvents events;
    private volatile boolean closed;

    KvEventStream(KvEvents events) {
        this.events = events;
    }

    /** Runs until the subscriber goes away, falls behind, or the server closes. */
    void serve(ServerResponse res) throws InterruptedException {
        KvEvents.Subscription sub = events == null ? null : events.subscribe();
        if (sub == null) {
            HttpEdge.sendError(res, new ApiException(404, null,
                    "KV events are off on this instance (--kv-events-config '{\"enable_kv_cache_events\":true}' turns them on)"));
            return;
        }
        try (sub) {
            res.status(200);
            res.header(HeaderNames.CONTENT_TYPE, "application/x-ndjson");
            res.header(HeaderNames.CACHE_CONTROL, "no-cache");
            OutputStream out = res.outputStream();
            KvEvents.Snapshot snap = sub.snapshot();
            long seq = snap.seq();
            write(out, snapshot(snap));
            while (!closed && sub.live()) {
                KvEvents.Batch b = sub.poll(HEARTBEAT_MS, TimeUnit.MILLISECONDS);
                if (b != null) seq = b.seq();
                write(out, b == null ? line("heartbeat", seq) : batch(b));
            }
            out.close();
        } catch (IOException | UncheckedIOException e) {
            // the subscriber went away; it resubscribes for a fresh snapshot when it comes back
        }
    }

    /** Ends every stream within a heartbeat (the server is stopping). */
    void close() { closed = true; }

    private static void write(OutputStream out, ObjectNode line) throws IOException {
        byte[] bytes = HttpEdge.bytes(line);
        out.write(bytes);
        out.write('\n');
        out.flush();
    }

    private ObjectNode line(String type, long seq) {
        return F.objectNode().put("type", type).put("epoch", events.epoch()).put("seq", seq);
    }

    private ObjectNode snapshot(KvEvents.Snapshot s) {
        ObjectNode o = line("snapshot", s.seq()).put("block_size", s.blockSize());
        ArrayNode blocks = o.putArray("blocks");
        for (KvEvents.BlockStored b : s.blocks()) blocks.add(stored(b));
        return o;
    }

    private ObjectNode batch(KvEvents.Batch b) {
        ObjectNode o = line("batch", b.seq()).put("ts", System.currentTimeMillis() / 1000.0);
        ArrayNode a = o.putArray("events");
        for (KvEvents.Event e : b.events()) {
            switch (e) {
                case KvEvents.BlockStored s -> a.add(stored(s));
                case KvEvents.BlockRemoved r -> {
                    ObjectNode n = a.addObject().put("type", "BlockRemoved");
                    n.putArray("block_hashes").add(r.hash());
                }
                case KvEvents.AllCleared c -> a.addObject().put("type", "AllBlocksCleared");
            }
        }
        return o;
    }

    private static ObjectNode stored(KvEvents.BlockStored s) {
        ObjectNode n = F.objectNode().put("type", "BlockStored");
        n.putArray("block_hashes").add(s.hash());
        if (s.parentHash() == 0) n.putNull("parent_block_hash"); else n.put("parent_block_hash", s.parentHash());
        n.put("token_count", s.numTokens());
        return n;
    }
}
