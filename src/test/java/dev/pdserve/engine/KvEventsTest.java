package dev.pdserve.engine;

import dev.pdserve.prefix.BlockHash;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The KV events replay to exactly the block manager's registered hashes, through stores, evictions and resets. */
class KvEventsTest {
    /** A subscriber's copy: snapshot, then batches applied in order. */
    static final class Replica {
        final Map<Long, KvEvents.BlockStored> held = new HashMap<>();
        long seq;

        Replica(KvEvents.Snapshot s) {
            for (KvEvents.BlockStored b : s.blocks()) held.put(b.hash(), b);
            seq = s.seq();
        }

        void drain(KvEvents.Subscription sub) throws InterruptedException {
            KvEvents.Batch b;
            while ((b = sub.poll(0, TimeUnit.MILLISECONDS)) != null) {
                assertThat(b.seq()).isEqualTo(seq + 1);
                seq = b.seq();
                for (KvEvents.Event e : b.events()) {
                    switch (e) {
                        case KvEvents.BlockStored st -> held.put(st.hash(), st);
                        case KvEvents.BlockRemoved r -> assertThat(held.remove(r.hash())).as("removed a held hash").isNotNull();
                        case KvEvents.AllCleared c -> held.clear();
                    }
                }
            }
        }
    }

    @Test
    void storedHashesAreThePromptsChainAndParentsLinkThem() throws Exception {
        BlockManager bm = new BlockManager(8, 4, true);
        KvEvents events = new KvEvents(4, 7);
        bm.publishTo(events);
        KvEvents.Subscription sub = events.subscribe();
        assertThat(sub.snapshot().blocks()).isEmpty();
        assertThat(sub.snapshot().epoch()).isEqualTo(7);

        int[] prompt = BlockManagerTest.range(50, 10);
        Request a = BlockManagerTest.request("a", prompt, 4, 4);
        bm.allocate(a, 0, 10);
        a.numComputed = 10;
        bm.cacheComputedBlocks(a);
        events.flush();
        KvEvents.Batch b = sub.poll(1, TimeUnit.SECONDS);
        long[] chain = BlockHash.chain(prompt, 2, 4);
        assertThat(b.seq()).isEqualTo(1);
        assertThat(b.events()).containsExactly(new KvEvents.BlockStored(chain[0], BlockHash.NONE, 4),
                new KvEvents.BlockStored(chain[1], chain[0], 4));
        // a later subscriber sees the same blocks in its snapshot
        assertThat(events.subscribe().snapshot().blocks()).containsExactlyInAnyOrderElementsOf(b.events().stream()
                .map(KvEvents.BlockStored.class::cast).toList());
    }

    @Test
    void aReplicaMatchesTheBlockManagerThroughARandomWorkload() throws Exception {
        Random rnd = new Random(42);
        BlockManager bm = new BlockManager(24, 4, true);
        KvEvents events = new KvEvents(4, 1);
        bm.publishTo(events);
        KvEvents.Subscription early = events.subscribe();
        Replica fromStart = new Replica(early.snapshot());
        List<Request> live = new ArrayList<>();
        Replica late = null;
        KvEvents.Subscription lateSub = null;
        for (int step = 0; step < 2000; step++) {
            int op = rnd.nextInt(10);
            if (op < 5) {
                // prompts over a few shared prefixes, so hits, revivals and evictions all happen
                int[] p = new int[4 + rnd.nextInt(14)];
                int family = rnd.nextInt(4);
                for (int i = 0; i < p.length; i++) p[i] = i < 8 ? family * 100 + i : rnd.nextInt(50);
                Request r = BlockManagerTest.request("r" + step, p, 2, 4);
                int hit = bm.findCachedBlocks(r);
                if (bm.allocate(r, hit, p.length)) {
                    r.numComputed = p.length;
                    r.numRegisteredBlocks = hit;
                    bm.cacheComputedBlocks(r);
                    live.add(r);
                }
            } else if (op < 9 && !live.isEmpty()) {
                bm.free(live.remove(rnd.nextInt(live.size())));
            } else if (rnd.nextInt(20) == 0) {
                bm.resetPrefixCache();
            }
            events.flush();
            if (step == 1000) {
                lateSub = events.subscribe();
                late = new Replica(lateSub.snapshot());
            }
            fromStart.drain(early);
            assertThat(fromStart.held.keySet()).as("step " + step).isEqualTo(bm.cachedHashes());
            if (late != null) {
                late.drain(lateSub);
                assertThat(late.held.keySet()).isEqualTo(bm.cachedHashes());
            }
        }
        assertThat(fromStart.seq).isGreaterThan(100);
    }

    @Test
    void aSubscriberThatFallsBehindIsCutOffAndADisabledLogHasNone() throws Exception {
        KvEvents events = new KvEvents(4, 1);
        KvEvents.Subscription slow = events.subscribe();
        for (int i = 0; i < 5000; i++) {
            events.stored(i + 1, 0, 4);
            events.flush();
        }
        assertThat(slow.live()).isFalse();
        assertThat(slow.poll(0, TimeUnit.MILLISECONDS)).isNull();
        assertThat(events.subscribe().snapshot().blocks()).hasSize(5000);
        events.disable();
        assertThat(events.subscribe()).isNull();
    }
}
