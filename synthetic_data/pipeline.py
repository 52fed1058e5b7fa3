"""The pipeline: world, public law, private law, records, linked sources, files. In this order.

Large scales run in chunks: each chunk is a complete, independent world at a fraction of the
scale (its own seed, drawn from the run's seed), so memory stays bounded as the scale grows and
the union has the requested volumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthetic_data import __version__
from synthetic_data.core.config import GenerationConfig, validate
from synthetic_data.core.params import ParameterSet, load_params, parameter_set, using
from synthetic_data.linked.build import linked_tables
from synthetic_data.linked.cohort import draw_comparison_sample
from synthetic_data.output.databases import write_databases
from synthetic_data.output.writers import DatasetWriter, staged_output, write_manifest
from synthetic_data.proceedings.casebook import CaseBook
from synthetic_data.proceedings.private_law import simulate_private_law
from synthetic_data.proceedings.public_law import simulate_public_law
from synthetic_data.proceedings.records import cafcass_tables
from synthetic_data.world.geography import build_small_areas, local_authorities
from synthetic_data.world.names import NamePools
from synthetic_data.world.people import build_world, give_test_range_numbers_first
from synthetic_data.world.tables import population_table, reference_tables, world_tables

STEPS = ("world", "public law", "private law", "records", "linked sources", "write")
# Cafcass tables written after the linked sources are made: the people are recaptured there,
# and the published demand is summed over chunks.
LATER_CAFCASS_TABLES = ("cafcass_people", "cafcass_published_demand")


def generate(config: GenerationConfig, params: Mapping[str, Any] | None = None) -> Path:
    """Generate a dataset as configured; return the folder it was written to.

    ``params`` changes parameter files for this run: ``{file name: {nested keys: value}}``,
    deep-merged onto the packaged files (:mod:`synthetic_data.core.param_overrides`). Every file
    is checked, overrides merged, before anything is written, so a bad value stops the run with
    the output folder as it was; then every ``load_params`` of the run sees the merged files.
    """
    validate(config)
    parameters = parameter_set(params)
    with using(parameters):
        return _generate(config, parameters)


def _generate(config: GenerationConfig, parameters: ParameterSet) -> Path:
    las = local_authorities(config.region)
    world_params = load_params("world")
    areas = build_small_areas(las, world_params["geography"]["postcodes_per_lsoa"])
    pools = NamePools.build()
    chunk_seeds = np.random.SeedSequence(config.seed).spawn(config.n_chunks)
    progress = _progress(config)
    population: pd.DataFrame | None = None
    demand: list[pd.DataFrame] = []
    # The databases are loaded from the Parquet batches as they are written (from the files
    # afterwards when there are none).
    from_batches = "parquet" in config.formats
    with staged_output(Path(config.out)) as staging, \
            DatasetWriter(staging, config.formats, databases=from_batches) as writer:
        for chunk, seed in enumerate(chunk_seeds):
            writer.drain()  # the last chunk's tables are on disk before this one is made
            rng = np.random.default_rng(seed)
            scale = config.scale / config.n_chunks
            world = build_world(las, areas, pools, world_params, config.start_day,
                                config.end_day, scale, rng, id_offset=chunk * 10**9)
            progress.update(1)
            book = CaseBook()
            simulate_public_law(world, load_params("public_law"), book,
                                config.financial_years, scale, rng)
            progress.update(1)
            world = simulate_private_law(world, load_params("private_law"), book,
                                         config.financial_years, scale, rng, pools)
            sample = draw_comparison_sample(world, load_params("linkage"), rng)
            world = give_test_range_numbers_first(world, np.unique(np.concatenate(
                [book.frame("children")["person"].to_numpy(dtype=np.int64),
                 book.frame("adults")["person"].to_numpy(dtype=np.int64), sample])))
            progress.update(1)
            # Tables final from here on are written at once: their files and database loads
            # proceed on the writer's threads while the linked sources are made.
            _write_all(writer, world_tables(world))
            cafcass = cafcass_tables(world, book, load_params("recording"), chunk, rng)
            _write_all(writer, {name: frame for name, frame in cafcass.items()
                                if name not in LATER_CAFCASS_TABLES})
            progress.update(1)
            tables = linked_tables(world, book, cafcass, chunk, config.project_key, sample, rng)
            tables.setdefault("cafcass_people", cafcass["cafcass_people"])
            tables["cafcass_published_demand"] = cafcass["cafcass_published_demand"]
            del cafcass
            pop = population_table(world, config.calendar_years)
            population = pop if population is None else _add_counts(population, pop)
            demand.append(tables.pop("cafcass_published_demand"))
            if chunk == 0:
                tables.update(reference_tables(world))
            progress.update(1)
            _write_all(writer, tables)
            del world, book, tables
            progress.update(1)
        writer.write("population", population)
        merged = pd.concat(demand).groupby(["month", "service", "law_type"], as_index=False).sum()
        writer.write("cafcass_published_demand", merged)
        rows = writer.close()
        if not from_batches:
            write_databases(staging)
        write_manifest(staging, {
            "generator": "synthetic_data",
            "version": __version__,
            "config": config.as_manifest(),
            "chunks": config.n_chunks,
            **parameters.manifest(),
            "row_counts": dict(sorted(rows.items())),
        })
        _write_dictionary(staging)
    progress.close()
    return Path(config.out)


def _write_all(writer: DatasetWriter, tables: dict) -> None:
    for name, frame in tables.items():
        writer.write(name, frame)


def _add_counts(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    out = a.copy()
    out["children"] = a["children"].to_numpy() + b["children"].to_numpy()
    return out


def _write_dictionary(folder: Path) -> None:
    """The data dictionary travels with the data (it is not hashed into the manifest)."""
    from synthetic_data.output.dictionary import render_dictionary

    (folder / "data_dictionary.md").write_text(render_dictionary(), encoding="utf-8")


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(config: GenerationConfig):
    if not config.progress:
        return _NoProgress()
    from tqdm import tqdm

    # delay: the bar appears only on runs that take more than a couple of seconds.
    return tqdm(total=len(STEPS) * config.n_chunks, desc="generating", unit="step", delay=2.0,
                leave=False)
