"""Update slots: a few updates at work at once, in order, and a long wait hands its slot on."""

from __future__ import annotations

import asyncio

from bot.slots import UpdateSlots, releasing_slot


async def _run_all(processor: UpdateSlots, work: list) -> None:  # type: ignore[type-arg]
    await asyncio.gather(*(processor.process_update(n, w) for n, w in enumerate(work)))


async def test_at_most_slots_updates_work_at_once_in_arrival_order() -> None:
    processor = UpdateSlots(3)
    busy, most, started = 0, 0, []

    async def update(n: int) -> None:
        nonlocal busy, most
        started.append(n)
        busy += 1
        most = max(most, busy)
        await asyncio.sleep(0.01)
        busy -= 1

    await _run_all(processor, [update(n) for n in range(10)])

    assert most == 3
    assert started == list(range(10))


async def test_an_update_waiting_elsewhere_lets_the_next_one_work() -> None:
    processor = UpdateSlots(1)
    answer = asyncio.Event()
    order: list[str] = []

    async def slow_draft() -> None:
        order.append("draft asks the LLM")
        async with releasing_slot():
            await answer.wait()  # seconds of LLM time, no load on the loop
        order.append("draft done")

    async def button_press() -> None:
        order.append("button handled")
        answer.set()

    await _run_all(processor, [slow_draft(), button_press()])

    assert order == ["draft asks the LLM", "button handled", "draft done"]


async def test_coming_back_from_a_wait_queues_for_a_slot_again() -> None:
    processor = UpdateSlots(1)
    busy, most = 0, 0

    async def update(wait_elsewhere: bool) -> None:
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        if wait_elsewhere:
            busy -= 1
            async with releasing_slot():
                await asyncio.sleep(0.01)
            busy += 1
            most = max(most, busy)
        await asyncio.sleep(0.01)
        busy -= 1

    await _run_all(processor, [update(n % 2 == 0) for n in range(8)])

    assert most == 1  # never two at work, however the waits interleave


async def test_a_task_spawned_by_an_update_cannot_give_its_slot_away() -> None:
    processor = UpdateSlots(1)
    busy, most = 0, 0

    async def background() -> None:
        async with releasing_slot():  # not the update's own task: must be a no-op
            await asyncio.sleep(0.01)

    async def update() -> None:
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        spawned = asyncio.create_task(background())
        await asyncio.sleep(0.005)
        await spawned
        busy -= 1

    await _run_all(processor, [update() for _ in range(4)])

    assert most == 1


async def test_an_update_back_from_its_wait_goes_before_updates_not_yet_started() -> None:
    # A burst: the first photo's LLM answer is in while 5 newer photos queue for a slot.
    # Finishing what was started first answers the first photo at once, instead of after
    # every newer photo has had its turn (which made every draft of a burst late).
    processor = UpdateSlots(1)
    answered = asyncio.Event()
    order: list[str] = []

    async def first_photo() -> None:
        order.append("first asks the LLM")
        async with releasing_slot():
            await answered.wait()
        order.append("first answered")

    async def newer_photo(n: int) -> None:
        order.append(f"photo {n} starts")
        answered.set()  # the answer comes in while the newer photos wait for a slot
        await asyncio.sleep(0)

    await _run_all(processor, [first_photo(), *(newer_photo(n) for n in range(1, 6))])

    assert order[:3] == ["first asks the LLM", "photo 1 starts", "first answered"]


async def test_a_cancelled_wait_for_a_slot_gives_no_slot_away() -> None:
    processor = UpdateSlots(1)
    release = asyncio.Event()

    async def holder() -> None:
        await release.wait()

    async def never_runs() -> None:
        raise AssertionError("cancelled before its turn")

    first = asyncio.create_task(processor.process_update(0, holder()))
    await asyncio.sleep(0)
    unstarted = never_runs()
    waiting = asyncio.create_task(processor.process_update(1, unstarted))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    release.set()
    await first
    ran: list[int] = []

    async def later() -> None:
        ran.append(1)

    await asyncio.wait_for(processor.process_update(2, later()), timeout=1)
    unstarted.close()  # PTB closes what it never ran; here the test does
    assert ran == [1] and waiting.cancelled()
