"""aiortc and OpenCV building blocks: sources, forwarding, recording, conduct monitor, statistics.

Modules: ``sources`` (OpenCV camera, FFmpeg microphone), ``testpattern`` (synthetic seat
camera with drawn timestamps, tone), ``forwarding`` (encoded fan-out to many viewers, on the
pure rules of ``fanout``; aiortc internals only in ``_aiortc_internals``), ``conduct`` (pure
alert rules), ``faces`` (Haar face and picture analysis), ``monitor`` (the two wired to a
forwarded stream), ``segmenting`` (pure rules of where a recording segment ends),
``recording`` (segmented, hash-listed recordings of a forwarded stream), ``stats`` (per-stream figures), ``loopback`` (tests and benchmarks only).
Errors: one root, ``media.errors.MediaError``.

Never imports evaluation_hub or seat_agent.
"""
