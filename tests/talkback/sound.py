"""A tone for Chromium's fake microphone (``--use-file-for-fake-audio-capture``): what a
supervisor says in talk-back tests across processes, loud enough never to pass for silence."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np

__all__ = ["tone_wav"]


def tone_wav(path: Path, hz: float = 440.0, seconds: float = 1.0, rate: int = 48_000) -> Path:
    """A mono 16-bit tone at a third of full scale (Chromium loops it while the mic is open)."""
    n = int(rate * seconds)
    samples = (np.sin(2 * math.pi * hz * np.arange(n) / rate) * 10_000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path
