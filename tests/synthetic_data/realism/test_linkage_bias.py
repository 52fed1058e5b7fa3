"""The band the linkage bias check allows: the published band, widened only by sampling noise."""

from __future__ import annotations

import pytest

from synthetic_data.realism.linked import bias_band, bias_tolerance


def test_the_linkage_bias_band_widens_only_by_sampling_noise() -> None:
    centre, band = bias_band()
    assert (centre * (1 - band), centre * (1 + band)) == pytest.approx((1.0, 2.0)), "the band"
    large, _ = bias_tolerance(0.26, 28_000, 0.18, 112_000)
    small, why = bias_tolerance(0.066, 2_900, 0.033, 10_900)
    assert band < large < band + 0.05, "a large source keeps about the 1.0 to 2.0 band"
    assert small > large and "standard errors" in why
    # Children looked after at classroom scale: 2.02 is within noise of the band's top, 3.0 is not.
    assert abs(2.02 - centre) <= small * centre < abs(3.0 - centre)
    assert bias_tolerance(0.0, 10, 0.1, 10) == (band, "")
