"""The two cryptographic suites side by side: sign, verify, hash and seal, measured in one run.

For each suite (``seat_protocol.suites``): signatures per second and verifications per second
over a 200-byte document (the size of a score save's canonical encoding), hashing MiB/s and
AEAD sealing MiB/s over 1 MiB buffers (the chapter chunk path). The default suite is the
baseline; every national figure is also given as a ratio to it. Figures, not a pass/fail test.

    .venv/bin/python bench/crypto_suites.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seat_protocol.suites import DEFAULT, NATIONAL, Suite

DOCUMENT = os.urandom(200)
BUFFER = os.urandom(1 << 20)


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``work`` over about ``seconds`` (after one warm-up call)."""
    work()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        work()
        count += 1
    return count / elapsed


def measure(suite: Suite, seconds: float) -> dict[str, float]:
    key = suite.generate_signing_key()
    public = key.public_key()
    signature = key.sign(DOCUMENT)
    aead = suite.aead(os.urandom(suite.aead_key_size))
    nonce = bytes(12)
    return {
        "sign/s": rate(lambda: key.sign(DOCUMENT), seconds),
        "verify/s": rate(lambda: public.verify(signature, DOCUMENT), seconds),
        "hash MiB/s": rate(lambda: suite.digest(BUFFER), seconds),
        "seal MiB/s": rate(lambda: aead.encrypt(nonce, BUFFER, b"context"), seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    figures = {suite.name: measure(suite, args.seconds) for suite in (DEFAULT, NATIONAL)}
    print(f"{'suite':10} {'algorithms':28} {'figure':12} {'value':>10} {'vs default':>11}")
    for suite in (DEFAULT, NATIONAL):
        algorithms = f"{suite.signature_name}/{suite.hash_name}/{suite.aead_name}"
        for name, value in figures[suite.name].items():
            ratio = value / figures[DEFAULT.name][name]
            print(f"{suite.name:10} {algorithms:28} {name:12} {value:10.1f} {ratio:10.3f}x")


if __name__ == "__main__":
    main()
