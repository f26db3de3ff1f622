"""The seat terminal (工位终端): websocket client, chapter cache, score outbox, the expert's page."""
