"""Stage 7, realism: the published figures a dataset must reproduce, the checks that compare it
with them, and the report a trainer reads.
"""
