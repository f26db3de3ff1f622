"""The hub <-> seat websocket protocol: message types both ends import, pure state machines."""
