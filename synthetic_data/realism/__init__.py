"""The realism stage: the published figures a dataset must reproduce, the checks that compare it
with them, and the report a trainer reads.

The figures are data (``targets.yaml``, read by :mod:`.targets`; volumes and other figures that
are parameters of the simulation come from the parameter files). :mod:`.frames` holds the
dataset and the frames every check counts from; each theme module holds the checks of one part
of the picture (:mod:`.population`, :mod:`.volumes`, :mod:`.children`, :mod:`.orders`,
:mod:`.durations`, :mod:`.recording`, :mod:`.parties`, :mod:`.returners`, :mod:`.recurrence`,
:mod:`.mothers`, :mod:`.newborns`, :mod:`.linked`); :mod:`.registry` orders them and judges
their rows; :mod:`.report` writes the report. Theme modules import only frames and targets, so
the package has no import cycle and a theme can be read on its own.
"""
