"""The hot paths of a step give exactly what the general paths give (issue 9, P1 overhead)."""

from __future__ import annotations

import threading

import numpy as np

from blackbox.keys import Key


def test_draw_is_the_stream_of_numpy_whatever_was_drawn_before() -> None:
    for j in range(20):
        key = Key(j, (1 << 63) + 12345 * j).fold_in(j)
        dirty = key.fold_in(1).draw()  # leave the reused generator mid-buffer, with a cached uint32
        dirty.integers(0, 2**31, size=3, dtype=np.uint32)
        dirty.random(5)
        a, b = key.draw().standard_normal(13), key.numpy().standard_normal(13)
        np.testing.assert_array_equal(a, b)
        a = key.draw().integers(0, 7, size=9, dtype=np.uint32)
        np.testing.assert_array_equal(a, key.numpy().integers(0, 7, size=9, dtype=np.uint32))


def test_draw_is_per_thread() -> None:
    out: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        acc = []
        for _ in range(200):
            acc.append(Key(i).draw().standard_normal(4))
        out[i] = np.array(acc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        want = Key(i).numpy().standard_normal(4)
        assert (out[i] == want).all()
