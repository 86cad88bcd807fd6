"""Stopping the engine ends every loop, even one that swallowed a cancel once."""

from __future__ import annotations

import asyncio

from order_processor.engine import cancel_until_done


async def test_a_loop_that_swallows_one_cancel_is_cancelled_again():
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # as asyncio.wait_for on 3.11 may do

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)

    await asyncio.wait_for(cancel_until_done([task], every_s=0.05), 5)

    assert task.cancelled() and swallowed == 1
