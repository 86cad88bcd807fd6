"""order_processor."""
