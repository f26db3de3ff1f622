"""aiortc and OpenCV building blocks: sources, forwarding, recording, conduct monitor, statistics.

Never imports evaluation_hub or seat_agent.
"""
