"""The world stage: the people of England and Wales who could ever come to family court.

Mothers, their births, partners and relatives, where each lives and when (geography, deprivation,
population), and their names. Every later stage samples from this world and never changes it.
"""
