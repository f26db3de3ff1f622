"""Janus (the WebRTC media server) driven over its HTTP API: the client and the VideoRoom
requests the hub's Janus media plane (``evaluation_hub.live.janus_plane``) uses."""

from media.janus.client import Event, JanusHandle, JanusSession, Jsep
from media.janus.videoroom import Participant, Room

__all__ = ["Event", "JanusHandle", "JanusSession", "Jsep", "Participant", "Room"]
