"""strategy_workers."""
