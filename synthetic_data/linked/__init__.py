"""The linked stage: the other datasets a family justice study links to, from the same world.

Family court records (FamilyMan-like), health (admissions, emergency department, GP
registrations, maternity), education (school census and attainment), children looked after
(SSDA903-like) and deaths. Each source records people through its own noisy capture
(``capture``); a simulated trusted third party (``linkage.ttp``) gives each record a project's
Anonymised Linking Field; ``linkage.tre`` lays out what an analyst in a trusted research environment
sees.
"""
