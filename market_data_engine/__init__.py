"""market_data_engine."""
