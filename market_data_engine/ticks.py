"""Tick batches (defined in ``shared.ticks``, where the tick store uses them too)."""

from shared.ticks import TickBatch

__all__ = ["TickBatch"]
