"""Duration estimates against the searches they estimate, timed end to end on this machine.

Each search that runs offline on digits gets a fresh temporary cache (``HPE_CACHE_DIR``):

1. the *cold* estimate: ``python -m core tune ... --dry-run --json`` on the empty store;
2. a short calibration run of the preset's base config (``python -m core train --config
   base.json --epochs 2``), so the store knows how fast this machine is;
3. the *warm* estimate: the same dry run, now with the calibration run in the store;
4. the search itself, ``python -m core tune ... --json`` (its baseline, its trials, the best
   kept), timed from the command's start to its exit;
5. the *hindsight* estimate: the dry run once more, with the search's own trials in the store
   (for information: how well the phases add up when they are measured on the search itself).

The searches: report 000's Hyperband preset (``--preset report000 --dataset digits``) and a
random search of 6 trials over the same space (``--tuner random --max-trials 6``). Reports 002
and 004 train on ImageNet weights that cannot be downloaded offline: they are listed as
skipped, with the reason their dry run gives. Printed: estimate ÷ actual for each search,
warm (it must lie in [0.7, 1.4]; the exit status is 1 otherwise), cold and hindsight (for
information), the machine's load average when the calibration and the search began and
ended (other work on the machine changes its speed, which no estimate made beforehand can
know), then one JSON line. It takes about 5 minutes on 2 cores, 15 when other work shares
them.

    python benchmarks/estimates.py [--only report000-hyperband] [--keep-caches]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import ROOT, emit, remove_cache, table, temp_cache  # noqa: E402
from core.worker.searches import presets  # noqa: E402

LOW, HIGH = 0.7, 1.4
DATASET = ["--dataset", "digits"]
# name: (preset, the tune command's other flags)
SEARCHES = {
    "report000-hyperband": ("report000", []),
    "report000-random6": ("report000", ["--tuner", "random", "--max-trials", "6"]),
    "report002": ("report002", []),
    "report004": ("report004", []),
}


def core(*args: str, timeout: float = 3600) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``python -m core ARGS`` in the current cache; return it and its wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done, time.perf_counter() - start


def dry_run(flags: list[str]) -> dict:
    """The plan and estimate of ``tune FLAGS --dry-run --json``."""
    done, _ = core("tune", *flags, "--dry-run", "--json", timeout=120)
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise SystemExit(f"dry run {flags} printed nothing:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def measure(name: str, preset: str, extra: list[str], keep: bool = False) -> dict:
    """Cold estimate, calibration, warm estimate and the real search, in a fresh cache."""
    root = temp_cache(name)
    flags = ["--preset", preset, *DATASET, *extra]
    try:
        cold = dry_run(flags)
        if not cold["ready"]:
            return {"name": name, "skipped": cold["problem"].split(", and ")[0]}
        base = root.parent / "base.json"
        base.write_text(json.dumps(presets()[preset].apply().to_dict()))
        load = [os.getloadavg()[0]]
        done, calibration_s = core("train", "--config", str(base), *DATASET, "--epochs", "2")
        if done.returncode != 0:
            raise SystemExit(f"{name}: calibration failed:\n{done.stderr[-3000:]}")
        warm = dry_run(flags)
        load.append(os.getloadavg()[0])
        done, actual = core("tune", *flags, "--json")
        load.append(os.getloadavg()[0])
        if done.returncode != 0:
            raise SystemExit(f"{name}: the search failed:\n{done.stderr[-3000:]}")
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        hindsight = dry_run(flags)
    finally:
        if keep:
            print(f"{name}: the cache is kept in {root}", flush=True)
        else:
            remove_cache(root)
    return {
        "name": name,
        "trials": summary["trials_done"],
        "planned_epochs": warm["epochs"],
        "calibration_s": round(calibration_s, 1),
        "cold_s": cold["estimate_s"],
        "warm_s": warm["estimate_s"],
        "actual_s": round(actual, 1),
        "hindsight_s": hindsight["estimate_s"],
        "cold_ratio": round(cold["estimate_s"] / actual, 3),
        "warm_ratio": round(warm["estimate_s"] / actual, 3),
        "hindsight_ratio": round(hindsight["estimate_s"] / actual, 3),
        "load": [round(x, 1) for x in load],
        "warm_parts_s": warm["parts_s"],
        "hindsight_parts_s": hindsight["parts_s"],
        "warm_sentence": warm["sentence"],
        "cold_sentence": cold["sentence"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SEARCHES), action="append")
    parser.add_argument("--keep-caches", action="store_true", help="keep each search's store")
    args = parser.parse_args()
    names = args.only or SEARCHES
    results = [measure(name, *SEARCHES[name], keep=args.keep_caches) for name in names]
    ran = [r for r in results if "skipped" not in r]
    rows = [
        [
            r["name"],
            r["trials"],
            r["planned_epochs"],
            r["cold_s"],
            r["warm_s"],
            r["actual_s"],
            r["cold_ratio"],
            r["warm_ratio"],
            "yes" if LOW <= r["warm_ratio"] <= HIGH else "NO",
            r["hindsight_ratio"],
            " → ".join(f"{x:g}" for x in r["load"]),
        ]
        for r in ran
    ]
    headers = ["search", "trials", "epochs", "cold s", "warm s", "actual s", "cold÷actual"]
    headers += ["warm÷actual", f"in [{LOW}, {HIGH}]", "hindsight÷actual", "load"]
    print(table(headers, rows))
    for r in results:
        if "skipped" in r:
            print(f"skipped {r['name']}: {r['skipped']}")
    for r in ran:
        print(f"{r['name']} warm: {r['warm_sentence']}")
        print(f"{r['name']} cold: {r['cold_sentence']}")
    emit({"searches": results, "low": LOW, "high": HIGH})
    if any(not LOW <= r["warm_ratio"] <= HIGH for r in ran):
        sys.exit(1)


if __name__ == "__main__":
    main()
