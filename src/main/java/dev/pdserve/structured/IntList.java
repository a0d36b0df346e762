package dev.pdserve.structured;

import java.util.Arrays;

/** A growable int array (the automaton builders keep millions of edges; boxing them would not do). */
final class IntList {
    private int[] a = new int[4];
    private int n;

    void add(int v) {
        if (n == a.length) a = Arrays.copyOf(a, n * 2);
        a[n++] = v;
    }

    int get(int i) { return a[i]; }

    int size() { return n; }

    int removeLast() { return a[--n]; }

    void clear() { n = 0; }

    int[] toArray() { return Arrays.copyOf(a, n); }
}
