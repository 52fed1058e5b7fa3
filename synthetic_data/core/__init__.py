"""The generator's foundations, used by every stage: dates and the no-date sentinel, sampling,
identifiers (NHS numbers), the parameter loader, generation settings and the error learners see.

Nothing here knows about families or courts, so every later stage can import it without cycles.
"""
