package dev.pdserve.kv;

/**
 * A finished pull.
 *
 * @param payloadBytes KV bytes received (blocks x layers x blockSize x entryFloats x 4)
 * @param wireBytes    all bytes this pull moved on its connection, frames included (not the handshake)
 * @param seconds      from sending PULL to receiving DONE
 */
public record KvTransferResult(int blocks, long payloadBytes, long wireBytes, double seconds) {}
