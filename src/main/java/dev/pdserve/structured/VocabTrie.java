package dev.pdserve.structured;

import java.util.Arrays;
import java.util.Comparator;

/**
 * The token byte strings as a trie laid out in depth-first order, so a walk is a scan that jumps
 * over a whole subtree ({@link #subtreeEnd}) when its prefix is rejected. Tokens are sorted by
 * bytes: the tokens of a subtree are the contiguous range {@code sorted[first(n) .. first(subtreeEnd(n)))},
 * those ending at node n come first in it.
 */
final class VocabTrie {
    final int numNodes;
    final int maxDepth;
    final byte[] nodeByte;
    final int[] depth;
    final int[] subtreeEnd;
    /** Index into {@link #sorted} of the first token of the node's subtree; entry numNodes is the total. */
    final int[] first;
    /** End of the tokens that end exactly at the node. */
    final int[] ownEnd;
    final int[] sorted;

    VocabTrie(byte[][] bytes) {
        Integer[] ids = java.util.stream.IntStream.range(0, bytes.length)
                .filter(i -> bytes[i] != null && bytes[i].length > 0).boxed().toArray(Integer[]::new);
        Arrays.sort(ids, Comparator.comparing((Integer i) -> bytes[i], Arrays::compareUnsigned).thenComparing(i -> i));
        sorted = Arrays.stream(ids).mapToInt(Integer::intValue).toArray();
        int cap = 1;
        byte[] prev = new byte[0];
        for (int id : sorted) {
            cap += bytes[id].length - commonPrefix(prev, bytes[id]);
            prev = bytes[id];
        }
        nodeByte = new byte[cap];
        depth = new int[cap];
        subtreeEnd = new int[cap];
        first = new int[cap + 1];
        ownEnd = new int[cap];
        int[] path = new int[1 + Arrays.stream(sorted).map(i -> bytes[i].length).max().orElse(0)];
        int top = 0; // path[0..top] are the nodes of the current prefix
        int n = 1;
        prev = new byte[0];
        for (int k = 0; k < sorted.length; k++) {
            byte[] b = bytes[sorted[k]];
            int lcp = commonPrefix(prev, b);
            while (top > lcp) subtreeEnd[path[top--]] = n;
            for (int d = lcp; d < b.length; d++) {
                nodeByte[n] = b[d];
                depth[n] = d + 1;
                first[n] = k;
                ownEnd[n] = k;
                path[++top] = n++;
            }
            ownEnd[path[top]] = k + 1;
            prev = b;
        }
        while (top > 0) subtreeEnd[path[top--]] = n;
        subtreeEnd[0] = n;
        first[n] = sorted.length;
        numNodes = n;
        maxDepth = path.length - 1;
    }

    /** First token index after node n's subtree. */
    int subtreeTokensEnd(int node) { return first[subtreeEnd[node]]; }

    private static int commonPrefix(byte[] a, byte[] b) {
        int m = Arrays.mismatch(a, b);
        return m < 0 ? a.length : m;
    }
}
