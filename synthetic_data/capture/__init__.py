"""Stage 3, capture: how each data source records a person, with the identifier errors real
administrative data have (typos, nicknames, swapped dates, wrong NHS numbers, old postcodes).

The error rates are data (``params/capture.yaml``); this package applies them.
"""
