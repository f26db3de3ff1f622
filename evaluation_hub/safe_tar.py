"""A ``tarfile.TarInfo`` that refuses what ``tarfile`` would read whole into memory (oversized
pax or GNU long-name headers) or cannot represent safely (sparse members) before reading it.

Shared by the bid-package unpacker and the archive reader; each names the refusal in its own
words (the package's in Chinese for the operator's page, the archive's in English for the CLI),
so the caller passes the exceptions to raise.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable

__all__ = ["HEADER_TYPES", "bounded_tarinfo"]

#: Headers whose data ``tarfile`` reads whole into memory before the member they describe.
HEADER_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)


def bounded_tarinfo(
    max_header_bytes: int,
    *,
    oversized_header: Callable[[int, str], Exception],
    sparse: Callable[[str], Exception],
) -> type[tarfile.TarInfo]:
    """A ``TarInfo`` class for ``tarfile.open(tarinfo=…)``: an extended header over
    ``max_header_bytes`` raises ``oversized_header(size, name)``, a sparse member
    ``sparse(name)``, both before ``tarfile`` reads their data."""

    class BoundedInfo(tarfile.TarInfo):
        def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
            if self.type in HEADER_TYPES and self.size > max_header_bytes:
                raise oversized_header(self.size, self.name)
            if self.type == tarfile.GNUTYPE_SPARSE:
                raise sparse(self.name)
            # tarfile's own dispatch (not in the type stubs).
            member: tarfile.TarInfo = super()._proc_member(tar)  # type: ignore[misc]
            return member

    return BoundedInfo
