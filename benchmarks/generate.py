"""Benchmark the synthetic-data generator: speed, memory, and two baselines.

    .venv/bin/python benchmarks/generate.py            # Wales at full scale, E+W at 0.2 and 0.4
    .venv/bin/python benchmarks/generate.py --quick    # Wales at 0.2, E+W at 0.05 and 0.1

Figures printed:

1. wall time and peak memory (RSS) of one generation run, in a child process of its own;
2. rows per second (every row of every table, from the manifest, over the generation time);
3. generation time over the time pyarrow takes just to write the same tables to Parquet (zstd),
   from memory: how close generating comes to the cost of writing the output at all;
4. a per-row Faker baseline (one Faker call per field per row for forename, surname, date of
   birth and postcode), timed on a sample of rows and extrapolated to world_people, over our
   whole generation time;
5. peak memory of England and Wales at two scales, with the number of chunks each ran in:
   memory should stay roughly flat once runs have more than one chunk.

Each generation runs in a fresh interpreter (this script with ``--child``) that reports its own
peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and the time spent in ``generate()``
alone; the parent cross-checks the peak with ``RUSAGE_CHILDREN``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 60.0
TARGET_GB = 6.0
TARGET_PARQUET_RATIO = 3.0
TARGET_FAKER_RATIO = 50.0


def _maxrss_bytes(kb_or_bytes: int) -> int:
    # Linux reports ru_maxrss in kilobytes, macOS in bytes.
    return kb_or_bytes if sys.platform == "darwin" else kb_or_bytes * 1024


def child_main(spec: dict) -> None:
    """Run one generation and print a JSON line with its timing and peak memory."""
    from synthetic_data.core.config import GenerationConfig
    from synthetic_data.pipeline import generate

    config = GenerationConfig(scale=spec["scale"], region=spec["region"], seed=spec["seed"],
                              out=Path(spec["out"]), progress=False)
    start = time.perf_counter()
    generate(config)
    seconds = time.perf_counter() - start
    peak = _maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps({"seconds": seconds, "peak_rss_bytes": peak}))


def run_generation(scale: float, region: str, out: Path, seed: int = 42) -> dict:
    """Generate in a fresh child process; return its figures and the dataset's manifest."""
    spec = {"scale": scale, "region": region, "seed": seed, "out": str(out)}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"generation failed (scale {scale}, {region}):\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["wall_seconds_with_startup"] = wall
    figures["children_peak_rss_bytes"] = _maxrss_bytes(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    figures["manifest"] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return figures


def parquet_write_seconds(dataset: Path, scratch: Path) -> float:
    """Time writing every Parquet table of ``dataset``, already in memory, to ``scratch``."""
    import pyarrow.parquet as pq

    tables = {p.relative_to(dataset): pq.read_table(p) for p in sorted(dataset.rglob("*.parquet"))}
    start = time.perf_counter()
    for rel, table in tables.items():
        target = scratch / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, compression="zstd")
    return time.perf_counter() - start


def faker_seconds_per_row(n: int) -> float:
    """Seconds per row for forename, surname, date of birth and postcode, one call each."""
    from faker import Faker

    fake = Faker("en_GB")
    Faker.seed(42)
    start = time.perf_counter()
    rows = [(fake.first_name(), fake.last_name(), fake.date_of_birth(), fake.postcode())
            for _ in range(n)]
    seconds = time.perf_counter() - start
    assert len(rows) == n
    return seconds / n


def vectorised_seconds_per_row(n: int) -> float:
    """The same four fields drawn the generator's way: pools built once, sampled in bulk."""
    import numpy as np

    from synthetic_data.world.geography import build_small_areas, local_authorities
    from synthetic_data.world.names import NamePools

    rng = np.random.default_rng(42)
    las = local_authorities("both")
    areas = build_small_areas(las, 12)
    pools = NamePools.build()
    areas.postcode_table()
    start = time.perf_counter()
    sex = np.where(rng.random(n) < 0.5, "M", "F").astype(object)
    year = rng.integers(1960, 2025, n)
    eth = np.array(["White", "Mixed", "Black", "Asian", "Other"], dtype=object)[
        rng.integers(0, 5, n)]
    forenames = pools.forenames(sex, year, eth, rng)
    surnames = pools.surnames(eth, rng)
    dob = (year - 1970) * 365 + rng.integers(0, 365, n)
    postcodes = areas.postcode(rng.integers(0, areas.lsoa_code.size, n), rng)
    seconds = time.perf_counter() - start
    assert len(forenames) == len(surnames) == len(dob) == len(postcodes) == n
    return seconds / n


def gb(n_bytes: float) -> str:
    return f"{n_bytes / 1024**3:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=None,
                        help="scale of the main run (default 1.0; --quick: 0.2)")
    parser.add_argument("--region", default="wales", help="region of the main run (default wales)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller runs: a check that the benchmark works, in a few minutes")
    parser.add_argument("--memory-scales", type=float, nargs=2, default=None,
                        help="the two England+Wales scales of the memory check "
                             "(default 0.2 0.4; --quick: 0.05 0.1)")
    parser.add_argument("--faker-rows", type=int, default=20_000,
                        help="rows in the Faker sample (default 20000)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
        return 0

    scale = args.scale if args.scale is not None else (0.2 if args.quick else 1.0)
    memory_scales = args.memory_scales or ((0.05, 0.1) if args.quick else (0.2, 0.4))
    from synthetic_data.core.config import GenerationConfig

    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        work = Path(tmp)

        # 1-2. One generation: time, memory, rows per second.
        print(f"[1] generating {args.region} at scale {scale} (default period)...", flush=True)
        main_run = run_generation(scale, args.region, work / "main")
        rows = main_run["manifest"]["row_counts"]
        total_rows = sum(rows.values())
        gen_seconds = main_run["seconds"]
        print(f"    {gen_seconds:.1f} s in generate() ({main_run['wall_seconds_with_startup']:.1f}"
              f" s with interpreter start-up), peak RSS {gb(main_run['peak_rss_bytes'])}, "
              f"{total_rows:,} rows in {len(rows)} tables, "
              f"{main_run['manifest']['chunks']} chunk(s); RUSAGE_CHILDREN peak "
              f"{gb(main_run['children_peak_rss_bytes'])}", flush=True)

        # 3. Against writing the same tables to Parquet.
        print("[3] writing the same tables with pyarrow (zstd)...", flush=True)
        write_seconds = parquet_write_seconds(work / "main", work / "rewrite")
        parquet_ratio = gen_seconds / write_seconds
        print(f"    {write_seconds:.2f} s to write; generation / write = {parquet_ratio:.1f}x",
              flush=True)

        # 4. Against a per-row Faker baseline.
        print(f"[4] Faker baseline on {args.faker_rows:,} rows...", flush=True)
        per_row = faker_seconds_per_row(args.faker_rows)
        people = rows["world_people"]
        faker_total = per_row * people
        faker_ratio = faker_total / gen_seconds
        print(f"    {per_row * 1e6:.1f} us per row; {people:,} world_people rows would take "
              f"{faker_total:.0f} s: {faker_ratio:.0f}x our whole generation", flush=True)
        ours_per_row = vectorised_seconds_per_row(min(people, 2_000_000))
        like_for_like = per_row / ours_per_row
        print(f"    the same four fields drawn from pools: {ours_per_row * 1e9:.0f} ns per row: "
              f"Faker per row is {like_for_like:.0f}x slower, field for field", flush=True)

        # 5. Memory as the scale grows (England and Wales, chunked).
        memory = []
        for s in memory_scales:
            chunks = GenerationConfig(scale=s, region="both").n_chunks
            print(f"[5] generating England and Wales at scale {s} ({chunks} chunk(s))...",
                  flush=True)
            run = run_generation(s, "both", work / f"both-{s}")
            memory.append((s, run))
            print(f"    {run['seconds']:.1f} s, peak RSS {gb(run['peak_rss_bytes'])}, "
                  f"{sum(run['manifest']['row_counts'].values()):,} rows, "
                  f"{run['manifest']['chunks']} chunk(s)", flush=True)
            # Free the disk: only the figures are needed from here on.
            import shutil

            shutil.rmtree(work / f"both-{s}", ignore_errors=True)

    def verdict(ok: bool) -> str:
        return "meets target" if ok else "MISSES target"

    full = args.region == "wales" and scale == 1.0
    print()
    print("figures")
    print(f"main_run: {args.region} scale {scale}, 2008-04 to 2025-03")
    print(f"generation_seconds: {gen_seconds:.1f}")
    print(f"peak_rss: {gb(main_run['peak_rss_bytes'])}")
    print(f"total_rows: {total_rows}")
    print(f"rows_per_second: {total_rows / gen_seconds:,.0f}")
    print(f"parquet_write_seconds: {write_seconds:.2f}")
    print(f"generation_over_parquet_write: {parquet_ratio:.2f}")
    print(f"faker_seconds_per_row: {per_row:.2e}")
    print(f"faker_extrapolated_seconds: {faker_total:.0f}")
    print(f"faker_over_generation: {faker_ratio:.0f}")
    print(f"faker_over_pools_same_fields: {like_for_like:.0f}")
    for s, run in memory:
        print(f"both_scale_{s}_peak_rss: {gb(run['peak_rss_bytes'])} "
              f"({run['manifest']['chunks']} chunk(s), {run['seconds']:.1f} s)")
    if len(memory) == 2:
        growth = memory[1][1]["peak_rss_bytes"] / memory[0][1]["peak_rss_bytes"]
        print(f"memory_growth_{memory_scales[0]}_to_{memory_scales[1]}: {growth:.2f}x "
              f"for {memory_scales[1] / memory_scales[0]:.1f}x the scale")
    print()
    print("targets")
    if full:
        print(f"wales_full_scale_seconds < {TARGET_SECONDS:.0f}: {gen_seconds:.1f} "
              f"({verdict(gen_seconds < TARGET_SECONDS)})")
        print(f"wales_full_scale_peak_rss < {TARGET_GB:.0f} GB: {gb(main_run['peak_rss_bytes'])} "
              f"({verdict(main_run['peak_rss_bytes'] < TARGET_GB * 1024**3)})")
    else:
        print(f"wales_full_scale targets (< {TARGET_SECONDS:.0f} s, < {TARGET_GB:.0f} GB): not "
              f"measured (main run is {args.region} at {scale})")
    print(f"generation_over_parquet_write <= {TARGET_PARQUET_RATIO:.0f}: {parquet_ratio:.2f} "
          f"({verdict(parquet_ratio <= TARGET_PARQUET_RATIO)})")
    print(f"faker_over_generation >= {TARGET_FAKER_RATIO:.0f}: {faker_ratio:.0f} "
          f"({verdict(faker_ratio >= TARGET_FAKER_RATIO)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
