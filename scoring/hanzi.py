"""Traditional → simplified Chinese, one character at a time (繁简转换), for matching only.

The table is OpenCC's (``opencc-purepy``, a maintained pure-Python port that ships OpenCC's
dictionaries as package data; loading them is a read of the installed package, the same on
every machine, and happens once, on first use). Characters are converted one by one, never as
phrases: the anonymity scan folds a bidder's name and a chapter's text the same way and maps
every folded character back to its place in the original, which a phrase conversion that may
change lengths would break. Per character, 乾 becomes 干 whether it meant 乾隆 or not — both
sides fold alike, so a match is still a match.
"""

from __future__ import annotations

import functools

from opencc_purepy import OpenCC

__all__ = ["is_han", "to_simplified"]


def is_han(char: str) -> bool:
    """A CJK unified or compatibility ideograph (the characters a table can convert)."""
    code = ord(char)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3134F


@functools.cache
def _converter() -> OpenCC:
    return OpenCC("t2s")


@functools.cache
def to_simplified(char: str) -> str:
    """The simplified form of one character (itself when it has none)."""
    if not is_han(char):
        return char
    out = _converter().convert(char)
    # One character in, one out: anything else would shift the positions the scan reports.
    return out if len(out) == 1 else char
