"""The scoring engine's exception tree. Every error it raises on purpose derives from ScoringError.

    ScoringError
    ├── PackageInvalid         a bid package breaks the format; ``problems`` lists every one
    │                          (file + field + message), not only the first
    ├── ScoreSheetInvalid      a score sheet breaks the rubric; ``problems`` lists item + reason
    ├── AnonymityBlocked       a chapter flagged by the anonymity scan has no recorded override
    ├── SealBlocked            deviation-review flags are neither re-scored nor explained
    ├── ShuffleManifestInvalid the experts, chapters, bidders or labels of a shuffle are unusable
    ├── ShuffleMismatch        a revealed seed does not match its commitment, or published
    │                          views differ from the ones the seed derives
    ├── AggregationError       scores cannot be aggregated by the configured rule
    ├── PriceError             prices cannot be scored by the configured method
    └── SignatureInvalid       a signature does not verify over the canonical encoding

Problem messages (``PackageProblem.message``, ``SheetProblem.reason``, flag texts) are
Simplified Chinese because the people who act on them — centre admins, experts, supervisors —
read Chinese; the exception's own ``str()`` is English for logs, with the problems appended.
This module must never import anything but the standard library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AggregationError",
    "AnonymityBlocked",
    "PackageInvalid",
    "PackageProblem",
    "PriceError",
    "ScoreSheetInvalid",
    "ScoringError",
    "SealBlocked",
    "SheetProblem",
    "ShuffleManifestInvalid",
    "ShuffleMismatch",
    "SignatureInvalid",
]


class ScoringError(Exception):
    """Root of every error the scoring engine raises on purpose."""


@dataclass(frozen=True, slots=True)
class PackageProblem:
    """One problem in a bid package: the file it is in, the field path, and what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} {self.field}: {self.message}"


class PackageInvalid(ScoringError):
    """The bid package cannot be imported; ``problems`` holds every problem found."""

    def __init__(self, problems: Sequence[PackageProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"bid package has {len(self.problems)} problem(s); fix them and import again:\n{lines}"
        )


@dataclass(frozen=True, slots=True)
class SheetProblem:
    """One problem in a score sheet: the item as the expert sees it, and the reason."""

    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


class ScoreSheetInvalid(ScoringError):
    """A score sheet breaks the rubric; ``problems`` holds every problem found."""

    def __init__(self, expert_id: str, problems: Sequence[SheetProblem]) -> None:
        self.expert_id = expert_id
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"score sheet of expert {expert_id} has {len(self.problems)} problem(s); "
            f"the expert must correct them and submit again:\n{lines}"
        )


class AnonymityBlocked(ScoringError):
    """A chapter carries identifying marks and no override with a reason was recorded."""

    def __init__(self, bidder_id: str, chapter_id: str, findings: int) -> None:
        self.bidder_id = bidder_id
        self.chapter_id = chapter_id
        self.findings = findings
        super().__init__(
            f"chapter {chapter_id} of bidder {bidder_id} has {findings} anonymity finding(s); "
            f"have the bidder's chapter corrected, or record an override with a reason"
        )


class SealBlocked(ScoringError):
    """The session cannot be sealed: some deviation-review flags are still open."""

    def __init__(self, open_flags: Sequence[str]) -> None:
        self.open_flags = tuple(open_flags)
        lines = "\n".join(f"  {f}" for f in self.open_flags)
        super().__init__(
            f"cannot seal: {len(self.open_flags)} review flag(s) are neither re-scored nor "
            f"explained; have the experts re-score or explain them:\n{lines}"
        )


class ShuffleManifestInvalid(ScoringError):
    """The inputs of a shuffle (seed, experts, chapters, bidders, labels) are unusable."""


class ShuffleMismatch(ScoringError):
    """A revealed seed or a published view does not match what was committed."""


class AggregationError(ScoringError):
    """Scores cannot be aggregated by the configured rule."""


class PriceError(ScoringError):
    """Prices cannot be scored by the configured method."""


class SignatureInvalid(ScoringError):
    """A signature does not verify over the canonical encoding of the signed document."""
