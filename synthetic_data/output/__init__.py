"""The output stage: every table's definition (the schema), the Parquet writers, the DuckDB
databases, the data dictionary and the charts notebooks show.
"""
