package dev.pdserve.kv;

import dev.pdserve.TestModels;
import dev.pdserve.engine.PagedKvCache;
import dev.pdserve.model.CausalLM;
import dev.pdserve.model.LoadOptions;
import dev.pdserve.model.ModelLoader;

import java.io.IOException;
import java.util.UUID;

/** A real {@link KvProducer} on loopback serving an off-heap cache with llama-tiny's KV descriptor, for tests in any package. */
public final class TinyProducer implements AutoCloseable {
    private static KvPeerInfo llama;

    public final KvProducer producer;
    private final PagedKvCache cache;

    private TinyProducer(KvProducer producer, PagedKvCache cache) {
        this.producer = producer;
        this.cache = cache;
    }

    /** llama-tiny's descriptor (fingerprint, layout, layers from the real model) with this engine id and block size. */
    public static synchronized KvPeerInfo descriptor(String engineId, int blockSize) {
        if (llama == null) {
            try (CausalLM model = ModelLoader.load(TestModels.llama(), LoadOptions.defaults().withThreads(1))) {
                llama = KvPeerInfo.of("template", model, 16, ModelFingerprint.of(TestModels.llama()));
            }
        }
        return new KvPeerInfo(llama.protocolVersion(), engineId, UUID.randomUUID().toString(), llama.modelFingerprint(), blockSize,
                llama.kvLayout(), llama.dtype(), llama.numLayers(), llama.entryFloats());
    }

    /** Starts a producer on a free loopback port; {@code extraConfig} is the inside of kv_connector_extra_config, e.g. a token. */
    public static TinyProducer start(String engineId, int blockSize, String extraConfig) throws IOException {
        KvPeerInfo info = descriptor(engineId, blockSize);
        KvTransferConfig cfg = KvTransferConfig.parse("{\"kv_connector\":\"PdTcpConnector\",\"kv_role\":\"kv_producer\",\"kv_ip\":\"127.0.0.1\","
                + "\"kv_port\":0,\"engine_id\":\"" + engineId + "\",\"kv_connector_extra_config\":{" + extraConfig + "}}");
        PagedKvCache cache = new PagedKvCache(info.numLayers(), 8, blockSize, info.entryFloats());
        return new TinyProducer(KvProducer.start(cfg, info, cache), cache);
    }

    public int port() { return producer.port(); }

    public PagedKvCache cache() { return cache; }

    @Override
    public void close() {
        producer.close();
        cache.close();
    }
}
