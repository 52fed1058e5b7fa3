"""Synthetic, entirely fake family justice data for England and Wales.

One simulated world of families, and Cafcass-like records of the public and private law
proceedings they come to, calibrated to published figures. The public face is small:

- :func:`generate` writes a dataset (the CLI ``python -m synthetic_data generate`` wraps it);
- :func:`load` reads one table of a generated dataset as a DataFrame;
- :func:`schema` describes every table and column;
- :func:`connect` opens one view's DuckDB database read-only, for SQL as in a TRE.
"""

from __future__ import annotations

__version__ = "0.1.0"

from synthetic_data.api import TABLE_NAMES, connect, default_data_dir, generate, load, schema  # noqa: E402

__all__ = ["TABLE_NAMES", "__version__", "connect", "default_data_dir", "generate", "load", "schema"]
