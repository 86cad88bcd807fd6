"""Alerts: raised from the events that matter to a trader, kept in their history and
delivered to the channels they turned on (see docs/alerts.md)."""
