"""Pure evaluation logic (评标计算): blind bids, staggered shuffle, score sheets, aggregation.

No I/O and no clock: time is a parameter. Imports nothing from the other packages.

    errors       the exception tree (root: ScoringError)
    decimals     the Decimal context, mean and half-up rounding
    model        the validated bid package (BidPackage and its parts)
    package      import and validation of a bid package from parsed documents, with
                 package_rubric (the rubric), package_price (the price section),
                 package_fields (the field reader) and chapter_text (an HTML chapter's text)
    anonymity    暗标合规检查: identifying marks in blind chapters, overrides; with findings
                 (what a finding is), marks (deliberate marks: formatting, symbols, repeated
                 odd strings), text_fold (folding with positions kept) and hanzi
                 (traditional → simplified characters)
    similarity   标书雷同: MinHash + LSH over character shingles, shared passages; alike
                 chapters under different chapter ids
    collusion    串通投标提示信号 between bidders: cross-chapter similarity, shared unusual
                 strings, identical price tails (places and sizes, never the text)
    shuffle      错位评审: per-expert, per-chapter permutations and labels, commitment, verify
    sheets       score sheets, their validation (one score: item_faults, also run at the
                 seat), re-integration (labels → bidders)
    review       评分复核: flags that block sealing, supervisor signals
    aggregation  mean / trimmed / 9-member highway rule, where rounding happens
    price        benchmark price, price scores, composite, ranking
    signing      canonical encoding, Ed25519 signatures, the documents signed (sheet,
                 result, the report signature both the seat and the hub build)

The format and the rules are described in docs/bid-package.md.
"""
