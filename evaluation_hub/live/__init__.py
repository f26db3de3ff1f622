"""Live audio and video supervision (音视频监督) at the hub: seats publish, supervisors watch.

``live.hub`` keeps each seat's publisher connection, the forwarders that fan its encoded media
out to viewers, the viewers' connections, per-stream statistics and conduct alerts;
``live.seats`` decides which seats of a session a supervisor may watch. The HTTP side is
``evaluation_hub.api.live``; seats' offers arrive over the seat websocket.
"""
