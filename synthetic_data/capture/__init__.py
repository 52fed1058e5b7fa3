"""The capture stage: how each data source records a person, with the identifier errors real
administrative data have (typos, nicknames, swapped dates, wrong NHS numbers, old postcodes).

The error rates are data (``params/capture.yaml``); this package applies them. Read it from the
public face inwards:

- ``apply``: ``capture()`` and ``record_counts()``, what the other stages call;
- ``settings``: capture.yaml (checked when loaded) in the form the capture code uses;
- ``rates``: each row's chance of each corruption (age bands, group multipliers, the cap);
- ``corruptions``: the registry of corruptions by name, in the order they are applied;
- ``name_errors``, ``date_errors``, ``identifier_errors``: the corruptions themselves;
- ``record``: the values being corrupted beside the truth they came from;
- ``spelling``, ``dates``, ``text``, ``choice``: the string, calendar and drawing helpers.
"""
