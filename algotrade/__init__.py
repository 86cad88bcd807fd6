"""algotrade."""
