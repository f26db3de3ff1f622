"""The one exception root of the ``media`` package and its tree.

Every error the media building blocks raise on purpose derives from :class:`MediaError`;
foreign errors (OpenCV, PyAV, aiortc) are translated once, where they are met, with
``raise ... from exc``. Messages say what to do next; fields carry the facts.

::

    MediaError
    ├── SourceError                     a capture source cannot be used
    │   ├── SourceConfigError           size or frame rate out of range
    │   ├── CameraUnavailable           OpenCV cannot open or read the device or file
    │   ├── MicrophoneUnavailable       FFmpeg cannot open the capture device
    │   └── TestImageMissing            scikit-image (the astronaut test face) is not installed
    ├── ForwardingError                 encoded forwarding cannot proceed
    │   ├── UnsupportedAiortcVersion    aiortc differs from the version the internals were written for
    │   ├── ReceiverAlreadyStarted      the receiver was tapped too late (it is already decoding)
    │   └── PublisherNotReady           a viewer asked for a stream whose codec is not negotiated yet
    ├── JanusError                      the Janus media server could not do what was asked
    │   ├── JanusUnavailable            its HTTP API did not answer (down, wrong URL, timeout)
    │   ├── JanusRefused                it answered with an error (Janus's or VideoRoom's code)
    │   └── JanusRecordingFailed        janus-pp-rec or FFmpeg could not turn a recording to WebM
    ├── ConductConfigError              conduct monitor thresholds are inconsistent
    └── RecordingConfigError            recording segment lengths are out of range
                                        (defined in ``segmenting``, which holds its rule)

This module must never import aiortc, PyAV or OpenCV: the pure modules import it.
"""

from __future__ import annotations

__all__ = [
    "CameraUnavailable",
    "ConductConfigError",
    "ForwardingError",
    "JanusError",
    "JanusRecordingFailed",
    "JanusRefused",
    "JanusUnavailable",
    "MediaError",
    "MicrophoneUnavailable",
    "PublisherNotReady",
    "ReceiverAlreadyStarted",
    "SourceConfigError",
    "SourceError",
    "TestImageMissing",
    "UnsupportedAiortcVersion",
]


class MediaError(Exception):
    """Root of every error raised on purpose by the ``media`` package."""


class SourceError(MediaError):
    """A capture source (camera, microphone, file, test image) cannot be used."""


class SourceConfigError(SourceError):
    """A source was configured with a size or frame rate it cannot produce."""

    def __init__(self, setting: str, value: object, expected: str) -> None:
        self.setting = setting
        self.value = value
        self.expected = expected
        super().__init__(f"invalid source {setting} {value!r}: expected {expected}")


class CameraUnavailable(SourceError):
    """OpenCV could not open, or stopped reading, a camera device or video file."""

    def __init__(self, source: int | str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(
            f"camera source {source!r} is unavailable: {reason}; check that the device "
            "exists and is not in use by another program, or that the file is a readable video"
        )


class MicrophoneUnavailable(SourceError):
    """FFmpeg could not open the audio capture device."""

    def __init__(self, device: str, backend: str, reason: str) -> None:
        self.device = device
        self.backend = backend
        self.reason = reason
        super().__init__(
            f"microphone {device!r} ({backend}) is unavailable: {reason}; check the device name "
            "(`arecord -L` lists ALSA devices) and that no other program holds it"
        )


class TestImageMissing(SourceError):
    """The astronaut test face ships with scikit-image, which is not installed."""

    # Not a pytest test class, despite the name.
    __test__ = False

    def __init__(self) -> None:
        super().__init__(
            "the astronaut test face ships with scikit-image, which is not installed: "
            "pip install 'scikit-image>=0.24,<0.27'"
        )


class ForwardingError(MediaError):
    """Encoded forwarding between a publisher and its viewers cannot proceed."""


class UnsupportedAiortcVersion(ForwardingError):
    """The installed aiortc is not one the encoded-forwarding internals were written for."""

    def __init__(self, found: str, supported: frozenset[str]) -> None:
        self.found = found
        self.supported = supported
        wanted = ", ".join(sorted(supported))
        super().__init__(
            f"aiortc {found} is installed but media/_aiortc_internals.py was written for "
            f"aiortc {wanted}; re-read the receiver and sender internals it touches, adapt it, "
            "and add the new version to SUPPORTED_AIORTC_VERSIONS"
        )


class ReceiverAlreadyStarted(ForwardingError):
    """The receiver already runs its decoder thread, so it can no longer be tapped."""

    def __init__(self) -> None:
        super().__init__(
            "the RTCRtpReceiver is already receiving; tap it from the peer connection's "
            "'track' event, before the connection is established"
        )


class PublisherNotReady(ForwardingError):
    """A viewer asked for a stream whose codec the publisher has not negotiated yet."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(
            f"the publisher's {kind} codec is not negotiated yet; add viewers after the "
            "publisher's offer has been accepted"
        )


class JanusError(MediaError):
    """The Janus media server could not do what the client asked."""


class JanusUnavailable(JanusError):
    """Janus's HTTP API did not answer: it is down, the URL is wrong, or it timed out."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"Janus at {url} is unavailable: {reason}; check that janus runs and that the "
            "hub's janus URL points at its HTTP transport"
        )


class JanusRefused(JanusError):
    """Janus (or its VideoRoom plugin) answered a request with an error."""

    def __init__(self, request: str, code: int, reason: str) -> None:
        self.request = request
        self.code = code
        self.reason = reason
        super().__init__(f"Janus refused {request}: {code} {reason}")


class JanusRecordingFailed(JanusError):
    """A Janus recording (``.mjr``) could not be converted to a WebM segment."""

    def __init__(self, recording: str, step: str, detail: str) -> None:
        self.recording = recording
        self.step = step
        self.detail = detail
        super().__init__(
            f"Janus recording {recording} not converted ({step}): {detail}; check that "
            "janus-pp-rec (Debian's janus-tools) and ffmpeg are installed"
        )


class ConductConfigError(MediaError):
    """The conduct monitor's thresholds contradict each other."""

    def __init__(self, setting: str, value: object, expected: str) -> None:
        self.setting = setting
        self.value = value
        self.expected = expected
        super().__init__(f"invalid conduct setting {setting} = {value!r}: expected {expected}")
