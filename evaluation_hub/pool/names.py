"""Organisation names compared the way a person would (单位名称比对): two spellings of one
company's name fold to the same key.

Folding: Unicode NFKC (full-width letters, digits and brackets become half-width), lower case,
brackets dropped but their content kept (``某某（集团）有限公司`` = ``某某集团有限公司``), every
space, punctuation mark and symbol removed, and then one company-form suffix dropped (股份有限公司,
有限责任公司, 有限公司, 公司 — longest first), so ``某某建设有限公司`` = ``某某建设股份有限公司`` =
``某某建设公司``. Equality of the folded keys is the match; nothing fuzzier, so that two
different companies are never taken for one.

Pure: no I/O.
"""

from __future__ import annotations

import unicodedata

__all__ = ["COMPANY_SUFFIXES", "fold_name", "fold_person"]

#: company-form suffixes, longest first (one is dropped)
COMPANY_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "公司")


def _kept(ch: str) -> bool:
    # Letters, digits and CJK ideographs (category Lo) stay; spaces (Z*), punctuation (P*,
    # which includes every bracket) and symbols (S*) go.
    return unicodedata.category(ch)[0] not in ("Z", "P", "S", "C")


def fold_name(name: str) -> str:
    """The key two spellings of one organisation's name share ('' for a blank name)."""
    text = unicodedata.normalize("NFKC", name).lower()
    text = "".join(ch for ch in text if _kept(ch))
    for suffix in COMPANY_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def fold_person(name: str) -> str:
    """A person's name compared without width differences and blanks (张 三 = 张三)."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in text if _kept(ch))
