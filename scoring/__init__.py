"""Pure evaluation logic (评标计算): blind bids, staggered shuffle, score sheets, aggregation.

No I/O and no clock: time is a parameter. Imports nothing from the other packages.
"""
