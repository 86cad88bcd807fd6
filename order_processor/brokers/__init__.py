"""Broker adapters: place, cancel, modify and status by client order id; paper first."""

from order_processor.brokers.base import (
    BrokerAdapter,
    BrokerEvent,
    BrokerRejected,
    BrokerUnavailable,
    BrokerWrapper,
    EventListener,
)
from order_processor.brokers.paper import PaperBroker

__all__ = [
    "BrokerAdapter",
    "BrokerEvent",
    "BrokerRejected",
    "BrokerUnavailable",
    "BrokerWrapper",
    "EventListener",
    "PaperBroker",
]
