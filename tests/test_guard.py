"""leakhunter.guard: ring buffer policies, timeouts, counters, threads, cancellation; the pool."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections import Counter

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from leakhunter.guard import (
    Block,
    BufferPool,
    DropOldest,
    Empty,
    FailFast,
    Full,
    RingBuffer,
    figures,
)
from leakhunter.guard.metrics import register_metrics

# -- policies -------------------------------------------------------------------------


def test_drop_oldest_evicts_the_oldest_and_counts_it() -> None:
    evicted: list[int] = []
    ring: RingBuffer[int] = RingBuffer(3, DropOldest, on_drop=evicted.append)
    for i in range(7):
        ring.put(i)
    assert ring.drain() == [4, 5, 6]
    assert evicted == [0, 1, 2, 3]
    s = ring.stats()
    assert (s.puts, s.gets, s.dropped, s.rejected, s.full, s.high_water) == (7, 3, 4, 0, 4, 3)


def test_fail_fast_refuses_at_once_and_counts_it() -> None:
    ring: RingBuffer[int] = RingBuffer(2, FailFast)
    ring.put(1)
    ring.put(2)
    started = time.monotonic()
    with pytest.raises(Full):
        ring.put(3, timeout=5)  # FailFast never waits, whatever the timeout
    assert time.monotonic() - started < 1
    with pytest.raises(Full):
        ring.put_nowait(4)
    assert ring.drain() == [1, 2]
    s = ring.stats()
    assert (s.puts, s.rejected, s.full, s.dropped, s.puts_attempted) == (2, 2, 2, 0, 4)


def test_block_waits_for_room() -> None:
    ring: RingBuffer[int] = RingBuffer(1, Block)
    ring.put(1)
    done = threading.Event()

    def producer() -> None:
        ring.put(2)  # blocks until the get below
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    assert not done.wait(0.2)  # still blocked: the buffer is full
    assert ring.get() == 1
    assert done.wait(5)
    t.join()
    assert ring.get_nowait() == 2
    s = ring.stats()
    assert (s.puts, s.gets, s.full, s.rejected) == (2, 2, 1, 0)


def test_block_timeout_refuses_and_counts_it() -> None:
    ring: RingBuffer[int] = RingBuffer(1, Block, timeout=0.05)
    ring.put(1)
    started = time.monotonic()
    with pytest.raises(Full):
        ring.put(2)  # the buffer's default timeout
    assert 0.04 <= time.monotonic() - started < 2
    with pytest.raises(Full):
        ring.put(3, timeout=0.0)
    with pytest.raises(Full):
        ring.put_nowait(4)
    s = ring.stats()
    assert (s.puts, s.rejected, s.full) == (1, 3, 3)
    assert list(ring.drain()) == [1]


def test_get_timeout_and_get_nowait_raise_empty() -> None:
    ring: RingBuffer[int] = RingBuffer(4, DropOldest)
    with pytest.raises(Empty):
        ring.get_nowait()
    started = time.monotonic()
    with pytest.raises(Empty):
        ring.get(timeout=0.05)
    assert 0.04 <= time.monotonic() - started < 2
    ring.put(9)
    assert ring.get(timeout=0) == 9


def test_level_and_capacity() -> None:
    ring: RingBuffer[str] = RingBuffer(4)
    assert ring.level == 0.0
    ring.put("a")
    ring.put("b")
    assert ring.level == 0.5 and len(ring) == 2 and ring.stats().level == 0.5
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer(0)


def test_a_blocking_put_in_the_event_loop_is_refused() -> None:
    async def main() -> None:
        ring: RingBuffer[int] = RingBuffer(1, Block)
        ring.put(1)  # room: fine even in a coroutine
        with pytest.raises(RuntimeError, match="aput"):
            ring.put(2)
        with pytest.raises(RuntimeError, match="aget"):
            RingBuffer[int](1).get()

    asyncio.run(main())


# -- threads under contention -------------------------------------------------------


@pytest.mark.parametrize("capacity", [1, 7, 64])
def test_block_delivers_every_item_exactly_once_under_contention(capacity: int) -> None:
    ring: RingBuffer[tuple[int, int]] = RingBuffer(capacity, Block)
    producers, per = 8, 2000
    got: list[tuple[int, int]] = []
    lock = threading.Lock()

    def produce(p: int) -> None:
        for i in range(per):
            ring.put((p, i))

    def consume() -> None:
        mine = []
        while True:
            item = ring.get(timeout=30)
            if item == (-1, -1):
                break
            mine.append(item)
        with lock:
            got.extend(mine)

    consumers = [threading.Thread(target=consume) for _ in range(3)]
    makers = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in consumers + makers:
        t.start()
    for t in makers:
        t.join()
    for _ in consumers:
        ring.put((-1, -1))
    for t in consumers:
        t.join(timeout=60)
    assert Counter(got) == Counter((p, i) for p in range(producers) for i in range(per))
    s = ring.stats()
    assert s.puts == s.gets == producers * per + len(consumers)
    assert s.rejected == s.dropped == 0 and s.items == 0 and s.high_water <= capacity


def test_drop_oldest_counters_add_up_under_contention() -> None:
    ring: RingBuffer[int] = RingBuffer(16, DropOldest)
    dropped: list[int] = []
    ring.on_drop = dropped.append
    got: list[int] = []
    done = threading.Event()

    def consume() -> None:
        while not done.is_set() or len(ring):
            got.extend(ring.drain(5))
            time.sleep(0)

    def produce(p: int) -> None:
        for i in range(3000):
            ring.put(p * 10_000 + i)

    c = threading.Thread(target=consume)
    c.start()
    makers = [threading.Thread(target=produce, args=(p,)) for p in range(8)]
    for t in makers:
        t.start()
    for t in makers:
        t.join()
    done.set()
    c.join()
    s = ring.stats()
    assert s.puts == 8 * 3000
    assert s.gets + s.dropped == s.puts and s.items == 0
    assert s.dropped == len(dropped) and s.gets == len(got)
    assert sorted(got + dropped) == sorted(p * 10_000 + i for p in range(8) for i in range(3000))
    for p in range(8):  # FIFO per producer: its items come out in the order it put them
        mine = [x for x in got if x // 10_000 == p]
        assert mine == sorted(mine)


# -- asyncio ------------------------------------------------------------------------


def test_async_block_hands_items_over_in_order() -> None:
    async def main() -> list[int]:
        ring: RingBuffer[int] = RingBuffer(2, Block)
        out: list[int] = []

        async def produce() -> None:
            for i in range(50):
                await ring.aput(i)

        async def consume() -> None:
            out.extend([await ring.aget() for _ in range(50)])

        await asyncio.gather(produce(), consume())
        s = ring.stats()
        assert s.puts == s.gets == 50 and s.full > 0  # the producer did wait
        return out

    assert asyncio.run(main()) == list(range(50))


def test_async_put_timeout_refuses() -> None:
    async def main() -> None:
        ring: RingBuffer[int] = RingBuffer(1, Block, timeout=0.05)
        await ring.aput(1)
        with pytest.raises(Full):
            await ring.aput(2)
        assert ring.stats().rejected == 1
        assert ring.drain() == [1]
        await ring.aput(3)  # a slot freed: no waiter left behind holds it
        assert ring.drain() == [3]

    asyncio.run(main())


def test_a_cancelled_getter_passes_its_item_on() -> None:
    async def main() -> None:
        ring: RingBuffer[str] = RingBuffer(4)
        first = asyncio.create_task(ring.aget())
        second = asyncio.create_task(ring.aget())
        await asyncio.sleep(0)  # both parked, first in line
        ring.put_nowait("x")  # wakes the first getter...
        first.cancel()  # ...which is cancelled before it runs
        assert await asyncio.wait_for(second, 5) == "x"
        with pytest.raises(asyncio.CancelledError):
            await first
        assert ring.stats().gets == 1 and len(ring) == 0

    asyncio.run(main())


def test_a_cancelled_putter_adds_nothing_and_frees_its_turn() -> None:
    async def main() -> None:
        ring: RingBuffer[str] = RingBuffer(1)
        await ring.aput("a")
        blocked = asyncio.create_task(ring.aput("never"))
        waiting = asyncio.create_task(ring.aput("b"))
        await asyncio.sleep(0)
        assert ring.get_nowait() == "a"  # wakes the first putter...
        blocked.cancel()  # ...cancelled before it runs: the slot goes to the next one
        await asyncio.wait_for(waiting, 5)
        assert ring.drain() == ["b"]
        with pytest.raises(asyncio.CancelledError):
            await blocked
        s = ring.stats()
        assert (s.puts, s.gets, s.rejected) == (2, 2, 0)

    asyncio.run(main())


def test_threads_feed_a_coroutine_and_back() -> None:
    async def main() -> None:
        inbox: RingBuffer[int] = RingBuffer(8)
        outbox: RingBuffer[int] = RingBuffer(8)

        def worker() -> None:  # a writer thread: takes from the loop, answers back
            for _ in range(500):
                outbox.put(inbox.get(timeout=30) * 2, timeout=30)

        t = threading.Thread(target=worker)
        t.start()
        results = []
        for i in range(500):
            await inbox.aput(i)
            if len(outbox):
                results.append(await outbox.aget())
        while len(results) < 500:
            results.append(await asyncio.wait_for(outbox.aget(), 30))
        await asyncio.to_thread(t.join)
        assert results == [2 * i for i in range(500)]

    asyncio.run(main())


# -- pool ---------------------------------------------------------------------------


def test_pool_reuses_and_resets_buffers() -> None:
    pool = BufferPool(2, 8)
    a = pool.acquire()
    assert a == bytearray(8)
    a[:5] = b"hello"
    pool.release(a)
    b = pool.acquire()
    assert b is a and b == bytearray(8)  # the same buffer, zeroed
    s = pool.stats()
    assert (s.gets, s.hits, s.misses, s.in_use, s.idle) == (2, 1, 1, 1, 0)
    assert s.hit_ratio == 0.5


def test_pool_drops_buffers_grown_past_the_bound() -> None:
    pool = BufferPool(4, 16, max_capacity=32)
    big = pool.acquire()
    big += bytes(100)  # the sync.Pool misuse: a buffer grown for one huge payload
    pool.release(big)
    fits = pool.acquire()
    assert fits is not big and len(fits) == 16
    fits += bytes(8)  # grown a little, within the bound: trimmed back and kept
    pool.release(fits)
    again = pool.acquire()
    assert again is fits and len(again) == 16
    s = pool.stats()
    assert (s.oversized, s.hits, s.gets) == (1, 1, 3)


def test_pool_keeps_at_most_size_and_ignores_double_releases() -> None:
    pool = BufferPool(2, 4)
    bufs = [pool.acquire() for _ in range(4)]
    for buf in bufs:
        pool.release(buf)
    pool.release(bufs[0])  # in the pool already: ignored
    pool.release(bufs[3])  # dropped before (the pool was full), and again
    s = pool.stats()
    assert s.idle == 2 and s.discarded == 3 and s.double_releases == 1
    with pool.buffer() as buf:
        assert len(buf) == 4
    assert pool.stats().in_use == 0


def test_pool_counters_are_exact_under_threads() -> None:
    pool = BufferPool(8, 64)

    def use() -> None:
        for _ in range(2000):
            with pool.buffer() as buf:
                buf[0] = 1

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = pool.stats()
    assert s.gets == 16_000 and s.in_use == 0 and s.idle <= 8
    assert s.hits + s.misses == s.gets and s.misses <= 8 + s.discarded


# -- figures and metrics --------------------------------------------------------------


def test_named_guards_show_in_figures_and_metrics_until_collected() -> None:
    ring: RingBuffer[int] = RingBuffer(4, DropOldest, name="test-outbox")
    for i in range(6):
        ring.put(i)
    pool = BufferPool(2, 8, name="test-frames")
    pool.release(pool.acquire())
    pool.acquire()
    doc = figures()
    assert doc["buffers"]["test-outbox"]["dropped"] == 2
    assert doc["buffers"]["test-outbox"]["policy"] == "drop-oldest"
    assert doc["pools"]["test-frames"]["hits"] == 1
    registry = CollectorRegistry()
    register_metrics(registry)
    text = generate_latest(registry).decode()
    assert 'leakhunter_buffer_dropped_total{buffer="test-outbox"} 2.0' in text
    assert 'leakhunter_buffer_fill_ratio{buffer="test-outbox"} 1.0' in text
    assert 'leakhunter_pool_hit_ratio{pool="test-frames"} 0.5' in text
    del ring, pool
    gc.collect()
    doc = figures()
    assert "test-outbox" not in doc["buffers"] and "test-frames" not in doc["pools"]
