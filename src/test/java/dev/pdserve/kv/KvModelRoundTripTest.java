package dev.pdserve.kv;

import dev.pdserve.TestModels;
import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.ForwardBatch;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.pdserve.kv.KvTestSupport.config;
import static dev.pdserve.kv.KvTestSupport.sameBlocks;
import static dev.pdserve.kv.KvTestSupport.PROMPT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Prefill on a producer, pull the KV over real loopback TCP into other block ids of a consumer
 * cache, and decode there: the blocks arrive byte for byte and the next token's logits are the
 * producer's. The bytes a relay counts on the wire are exactly the payload plus documented frames.
 */
class KvModelRoundTripTest {
    private static final int BLOCK = 16;

    @ParameterizedTest
    @ValueSource(strings = {"deepseek", "llama"})
    void prefillOnProducerDecodeOnConsumer(String name) throws Exception {
        Path dir = name.equals("deepseek") ? TestModels.deepseek() : TestModels.llama();
        try (CausalLM model = ModelLoader.load(dir, LoadOptions.defaults().withThreads(1))) {
            if (name.equals("deepseek")) {
                assertThat(model.kvEntryFloats()).as("MLA caches kv_lora_rank 64 + rope 16").isEqualTo(80);
            } else {
                assertThat(model.kvLayout()).startsWith("gqa-");
            }
            String fingerprint = ModelFingerprint.of(dir);
            KvPeerInfo pInfo = KvPeerInfo.of("prefill-0", model, BLOCK, fingerprint);
            KvPeerInfo cInfo = KvPeerInfo.of("decode-0", model, BLOCK, fingerprint);
            String token = "\"cluster_token\":\"s3cret\"";
            int[] prompt = new int[40];
            for (int i = 0; i < prompt.length; i++) prompt[i] = 3 + (i * 37) % 3000;
            int[] pTable = {5, 2, 9};   // 40 tokens fill 2.5 blocks
            int[] cTable = {1, 7, 3};   // the consumer's own, different, block ids
            int[] pTable2 = {11, 12, 0};

            try (PagedKvCache pCache = new PagedKvCache(model.numLayers(), 16, BLOCK, model.kvEntryFloats());
                 PagedKvCache cCache = new PagedKvCache(model.numLayers(), 8, BLOCK, model.kvEntryFloats());
                 KvProducer producer = KvProducer.start(config("kv_producer", token), pInfo, pCache);
                 KvConsumer consumer = new KvConsumer(config("kv_consumer", token), cInfo);
                 KvTestSupport.CountingRelay relay = new KvTestSupport.CountingRelay(producer.port())) {
                ForwardBatch batch = new ForwardBatch();
                float[] pLogits = new float[model.vocabSize()];
                batch.addSequence(prompt, 0, prompt.length, 0, pTable, BLOCK, true);
                model.forward(batch, pCache, pLogits);
                batch.clear();
                batch.addSequence(prompt, 0, prompt.length, 0, pTable2, BLOCK, true);
                model.forward(batch, pCache, pLogits); // a second copy, for the framing measurement below

                AtomicInteger freed = new AtomicInteger();
                producer.lease("req-1", pTable, PROMPT, freed::incrementAndGet);
                assertThat(producer.blocksLeased()).isEqualTo(3);
                KvTransferParams params = KvTransferParams.remotePrefill(pInfo, "127.0.0.1", relay.port(), "req-1", pTable, prompt.length);
                KvTransferResult r = consumer.pull(params, PROMPT, cCache, cTable);

                assertThat(sameBlocks(pCache, pTable, cCache, cTable, model.numLayers())).isTrue();
                long payload = 3L * BLOCK * model.kvEntryFloats() * 4 * model.numLayers();
                assertThat(r.payloadBytes()).isEqualTo(payload);
                assertThat(r.blocks()).isEqualTo(3);
                assertThat(freed.get()).as("RELEASE frees exactly once").isEqualTo(1);
                assertThat(producer.isLeased("req-1")).isFalse();
                assertThat(producer.blocksLeased()).isZero();
                assertThat(producer.bytesSent()).isEqualTo(payload);
                assertThat(consumer.bytesReceived()).isEqualTo(payload);

                // Next token: decode position 40 on each side from its own cache.
                int next = argmax(pLogits);
                float[] onProducer = decode(model, batch, pCache, pTable, prompt, next);
                float[] onConsumer = decode(model, batch, cCache, cTable, prompt, next);
                assertThat(maxAbsDiff(onProducer, onConsumer)).isEqualTo(0f);
                try (PagedKvCache empty = new PagedKvCache(model.numLayers(), 8, BLOCK, model.kvEntryFloats())) {
                    assertThat(maxAbsDiff(onProducer, decode(model, batch, empty, cTable, prompt, next)))
                            .as("without the transferred KV the next token's logits differ").isGreaterThan(1e-3f);
                }

                // Second pull on the pooled connection: the relay sees payload + exactly the documented frames.
                producer.lease("req-2", pTable2, PROMPT, freed::incrementAndGet);
                long before = relay.bytes.get();
                int[] cTable2 = {0, 4, 6};
                KvTransferResult r2 = consumer.pull("127.0.0.1", relay.port(), "prefill-0", "req-2", pTable2, PROMPT, cCache, cTable2);
                long onWire = relay.bytes.get() - before;
                int rid = "req-2".length();
                long framing = 5 * KvChannel.HEADER_BYTES      // PULL, BLOCKS, DONE, RELEASE, RELEASED headers
                        + 5 * (2 + rid)                        // the request id in each of them
                        + 4 + 4 * 3                            // PULL's block id list
                        + 2 * (2 + 32)                         // the prompt's hash in PULL and RELEASE
                        + 3 * 4;                               // BLOCKS' counts: blocks, layers, bytes per block-layer
                assertThat(onWire).isEqualTo(payload + framing);
                assertThat(r2.wireBytes()).isEqualTo(onWire);
                assertThat(consumer.connectionsOpened()).as("the connection was reused").isEqualTo(1);
                assertThat(sameBlocks(pCache, pTable2, cCache, cTable2, model.numLayers())).isTrue();
                assertThat(freed.get()).isEqualTo(2);
            }
        }
    }

    private static float[] decode(CausalLM model, ForwardBatch batch, PagedKvCache cache, int[] table, int[] prompt, int token) {
        float[] logits = new float[model.vocabSize()];
        batch.clear();
        batch.addSequence(new int[]{token}, 0, 1, prompt.length, table, BLOCK, true);
        model.forward(batch, cache, logits);
        return logits;
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
