"""The linkage stage: the trusted third party's split-file linkage that gives each record an
Anonymised Linking Field (ALF), the view an analyst sees in a trusted research environment, and
the labelled record pairs (the ground truth kept apart for grading).
"""
