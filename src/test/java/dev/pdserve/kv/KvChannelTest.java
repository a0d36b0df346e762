package dev.pdserve.kv;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Frames survive a real socket: empty bodies, big-endian fields, scattered payloads with empty pieces, size limits. */
class KvChannelTest {
    @Test
    void framesAndPayloadsRoundTrip() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             KvChannel a = new KvChannel(SocketChannel.open(server.getLocalAddress()), "b", 2000);
             KvChannel b = new KvChannel(server.accept(), "a", 2000)) {
            a.start();
            a.send(KvChannel.DONE, "empty");
            a.start();
            a.putString("héllo").putInts(new int[]{7, -1, 1 << 20}).putByte(3).putInt(0x01020304);
            a.send(KvChannel.PULL, "PULL");
            ByteBuffer[] out = {ByteBuffer.allocateDirect(0), ByteBuffer.allocateDirect(3).put(new byte[]{1, 2, 3}).flip(),
                    ByteBuffer.allocateDirect(0), ByteBuffer.allocateDirect(2).put(new byte[]{4, 5}).flip()};
            a.writeFully(out, 0, out.length, "payload");

            KvChannel.Frame empty = b.read("empty", false);
            assertThat(empty.type()).isEqualTo(KvChannel.DONE);
            assertThat(empty.body().remaining()).isZero();
            KvChannel.Frame f = b.read("PULL", false);
            assertThat(f.type()).isEqualTo(KvChannel.PULL);
            assertThat(f.body().duplicate().position(2 + 6 + 4).getInt()).as("big-endian").isEqualTo(7);
            assertThat(f.string()).isEqualTo("héllo");
            assertThat(f.ints()).containsExactly(7, -1, 1 << 20);
            assertThat(f.u8()).isEqualTo((byte) 3);
            assertThat(f.i32()).isEqualTo(0x01020304);
            assertThatThrownBy(f::i32).hasMessage("malformed PULL frame");
            ByteBuffer[] in = {ByteBuffer.allocate(0), ByteBuffer.allocate(4), ByteBuffer.allocate(1)};
            b.readFully(in, 0, in.length, "payload");
            assertThat(in[1].array()).containsExactly(1, 2, 3, 4);
            assertThat(in[2].array()).containsExactly(5);
            assertThat(a.bytesWritten).isEqualTo(b.bytesRead).isEqualTo(5 + 5 + (2 + 6) + (4 + 12) + 1 + 4 + 5);

            ByteBuffer huge = ByteBuffer.allocate(5).put((byte) 9).putInt(KvChannel.MAX_FRAME + 1).flip();
            a.writeFully(new ByteBuffer[]{huge}, 0, 1, "bad header");
            assertThatThrownBy(() -> b.read("bad", false)).hasMessageContaining("frame of 16777217 bytes");
        }
    }
}
