"""The hub's TLS key, pinned at enrolment (主场证书公钥固定).

A seat terminal talks to its hub over ``wss://``. It does not trust certificate authorities for
that: it trusts the one key it recorded when it enrolled (``seat.json``'s ``hub_pin``, the
SHA-256 of the hub certificate's SubjectPublicKeyInfo, ``seat_protocol.auth.spki_sha256``),
either given by the hub's administrator (``seat-agent init --hub-pin``) or seen on the first
enrolment and shown to the person enrolling (trust on first use). Every later connection checks
the key inside the TLS handshake, before a single byte of the websocket handshake is sent, and a
hub with another key is refused: :class:`PinMismatch` there, ``HubKeyChanged`` for the agent,
which stops instead of retrying (a person must find out why the key changed).

The check lives in the TLS object's handshake (``ssl.SSLObject.do_handshake``), which asyncio
calls for every TLS connection made with the context from :func:`pinned_context`.
"""

from __future__ import annotations

import ssl

from seat_protocol.auth import spki_sha256

__all__ = ["PinMismatch", "PinningContext", "pinned_context"]


class PinMismatch(ssl.SSLCertVerificationError):
    """The hub presented a key other than the pinned one (raised inside the TLS handshake)."""

    def __init__(self, expected: str, seen: str | None) -> None:
        self.expected = expected
        self.seen = seen
        super().__init__(f"hub key {seen or 'missing'} is not the pinned key {expected}")


class _PinnedObject(ssl.SSLObject):
    """A client TLS object that checks the server's key against its context's pin."""

    def do_handshake(self) -> None:
        super().do_handshake()  # returns only once the handshake is complete
        context = self.context
        assert isinstance(context, PinningContext)
        der = self.getpeercert(binary_form=True)
        seen = spki_sha256(der) if der else None
        context.seen = seen
        if context.pin is not None and seen != context.pin:
            raise PinMismatch(context.pin, seen)


class PinningContext(ssl.SSLContext):
    """A client context whose only trust is ``pin`` (``None``: any key, noted in ``seen``)."""

    sslobject_class = _PinnedObject
    pin: str | None = None
    #: the key of the last hub this context completed a handshake with
    seen: str | None = None


def pinned_context(pin: str | None) -> PinningContext:
    """A TLS client context that accepts the hub holding the key ``pin`` and no other; with
    ``pin=None`` (first enrolment) it accepts any key and records it in ``seen``."""
    context = PinningContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # The pin replaces the authorities and host names: self-signed hub certificates are usual,
    # and a certificate a public authority issued to anybody else must not be accepted.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.pin = pin
    return context
