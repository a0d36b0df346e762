package dev.pdserve.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.pdserve.engine.BlockManagerTest.range;
import static dev.pdserve.engine.BlockManagerTest.request;
import static org.assertj.core.api.Assertions.assertThat;

class SchedulerTest {
    /** What the last schedule() chose, as "id:tokens". */
    static List<String> plan(Scheduler s) {
        ScheduledBatch b = s.lastBatch();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < b.size(); i++) out.add(b.request(i).id + ":" + b.numTokens(i));
        return out;
    }

    /** Pretends the forward ran: marks the tokens computed and samples token 7 where logits were due. */
    static void complete(Scheduler s, BlockManager bm) {
        ScheduledBatch b = s.lastBatch();
        for (int i = 0; i < b.size(); i++) {
            Request r = b.request(i);
            r.numComputed += b.numTokens(i);
            bm.cacheComputedBlocks(r);
            if (b.samples(i)) r.append(7);
        }
    }

    @Test
    void tokenBudgetChunksLongPromptsAndRunningRequestsGoFirst() {
        BlockManager bm = new BlockManager(64, 4, false);
        Scheduler s = new Scheduler(bm, 8, 10);
        s.add(request("a", range(0, 25), 5, 4));
        s.add(request("b", range(0, 3), 5, 4));
        s.schedule();
        assertThat(plan(s)).containsExactly("a:10");
        assertThat(s.lastBatch().samples(0)).isFalse(); // a prefill chunk short of the prompt's end
        complete(s, bm);
        s.schedule();
        assertThat(plan(s)).containsExactly("a:10");
        complete(s, bm);
        s.schedule();
        // a's last 5 prompt tokens, then b fits in what is left of the budget.
        assertThat(plan(s)).containsExactly("a:5", "b:3");
        complete(s, bm);
        s.schedule();
        assertThat(plan(s)).containsExactly("a:1", "b:1");
        assertThat(s.numRunning()).isEqualTo(2);
    }

    @Test
    void maxNumSeqsCapsRunningRequests() {
        BlockManager bm = new BlockManager(64, 4, false);
        Scheduler s = new Scheduler(bm, 2, 100);
        for (String id : List.of("a", "b", "c")) s.add(request(id, range(0, 3), 5, 4));
        s.schedule();
        assertThat(plan(s)).containsExactly("a:3", "b:3");
        assertThat(s.numWaiting()).isEqualTo(1);
    }

    @Test
    void outOfBlocksPreemptsTheNewestAndRequeuesItFirstWithItsTokens() {
        BlockManager bm = new BlockManager(4, 4, false);
        Scheduler s = new Scheduler(bm, 8, 100);
        Request a = request("a", range(0, 8), 8, 4);
        Request b = request("b", range(0, 8), 8, 4);
        s.add(a);
        s.add(b);
        s.schedule();
        assertThat(plan(s)).containsExactly("a:8", "b:8");
        complete(s, bm);
        assertThat(bm.numFreeBlocks()).isZero();
        // a needs a 3rd block for its 9th token: b, the newest, is preempted.
        s.schedule();
        assertThat(plan(s)).containsExactly("a:1");
        assertThat(s.numPreemptions).isEqualTo(1);
        assertThat(b.numComputed).isZero();
        assertThat(b.numBlocks).isZero();
        assertThat(b.numTokens).isEqualTo(9);
        complete(s, bm);
        s.schedule();
        // no new admissions while memory is short: only a runs; b waits first in line.
        assertThat(plan(s)).containsExactly("a:1");
        s.remove(a);
        s.schedule();
        // b recomputes its prompt and its generated token, then samples its next one.
        assertThat(plan(s)).containsExactly("b:9");
        assertThat(s.lastBatch().samples(0)).isTrue();
        s.remove(b);
        assertThat(bm.numUsedBlocks()).isZero();
    }

    @Test
    void aRequestThatCannotGetBlocksPreemptsItselfWhenItIsTheNewest() {
        BlockManager bm = new BlockManager(2, 4, false);
        Scheduler s = new Scheduler(bm, 8, 100);
        Request a = request("a", range(0, 4), 8, 4);
        Request b = request("b", range(0, 4), 8, 4);
        s.add(a);
        s.add(b);
        s.schedule();
        complete(s, bm);
        s.schedule();
        // a preempts b; then a runs alone.
        assertThat(plan(s)).containsExactly("a:1");
        assertThat(s.numWaiting()).isEqualTo(1);
    }

    @Test
    void prefixHitsSkipComputedTokens() {
        BlockManager bm = new BlockManager(16, 4, true);
        Scheduler s = new Scheduler(bm, 8, 100);
        Request a = request("a", range(0, 10), 4, 4);
        s.add(a);
        s.schedule();
        complete(s, bm);
        Request b = request("b", range(0, 13), 4, 4);
        s.add(b);
        s.schedule();
        assertThat(plan(s)).containsExactly("a:1", "b:5");
        assertThat(b.cachedPromptTokens).isEqualTo(8);
        assertThat(bm.prefixHits()).isEqualTo(8);
        assertThat(bm.prefixQueries()).isEqualTo(23);
    }
}
