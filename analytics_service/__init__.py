"""Analytics: performance metrics and equity curves of accounts, subscriptions and portfolios.

Other packages import ``analytics_service.api`` only (import-linter holds it);
``analytics_service.metrics`` is pure domain code.
"""
