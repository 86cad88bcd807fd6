"""websocket_service."""
