"""What the fault tests prove, as one table: faults injected and survived, bad inputs refused,
zip attacks refused, code checks held (nothing unpickled, no raw HTML), epoch rows lost.

Runs ``pytest -m faults`` (killed workers, a second writer process hammering the store, an old
store file, a NaN loss in the worker, config fuzzing, and the table of bad inputs on the Train
form, the command line and the config loader), then the zip attack tests of
``tests/data/test_folders.py`` (every ``..._refused`` test except the class-count checks), each
with a JUnit XML report in a temporary folder. Rows lost come from the contention test, which
writes its count to the file named by ``HPE_FAULTS_STORE_REPORT``; results and epochs kept
come from the tests that kill, pause or outlive a process (their ``ledger`` lines in the file
named by ``HPE_FAULTS_RESULTS_REPORT``). Every fault case is listed by name with its outcome.

    python benchmarks/faults_table.py

Exits 1 if any test failed; the last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, emit, table  # noqa: E402

ATTACKS = "refused and not classes"
# Inputs refused or read safely: the Train form, CLI and loader table, past-limit files and
# values, bad settings, and image folders with odd files in them.
BAD_INPUTS = ("test_bad_inputs", "test_spec_limits", "test_image_edges", "test_bad_settings")
FUZZ = "test_config_fuzz"
# Static checks over every module: nothing unpickled, no raw HTML. Counted apart from faults.
STATIC = ("test_no_unpickling", "test_names_as_text")
STORE_REPORT_ENV = "HPE_FAULTS_STORE_REPORT"
RESULTS_REPORT_ENV = "HPE_FAULTS_RESULTS_REPORT"


def run_pytest(args: list[str], report: Path, env: dict[str, str]) -> tuple[list[dict], float]:
    """Run pytest with a JUnit report; return one dict per test case and the wall time."""
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *args,
        ],
        cwd=ROOT,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - start
    if not report.is_file():
        raise SystemExit(f"pytest wrote no report to {report}")
    cases = []
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
        cases.append(
            {
                "module": case.get("classname", ""),
                "name": case.get("name", ""),
                "seconds": float(case.get("time", 0)),
                "outcome": outcome,
            }
        )
    return cases, seconds


def count(cases: list[dict]) -> tuple[int, int]:
    ran = [c for c in cases if c["outcome"] != "skipped"]
    return len(ran), sum(c["outcome"] == "passed" for c in ran)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hpe-faults-") as tmp:
        tmp_dir = Path(tmp)
        store_report = tmp_dir / "store.json"
        results_report = tmp_dir / "results.jsonl"
        env = {
            **os.environ,
            STORE_REPORT_ENV: str(store_report),
            RESULTS_REPORT_ENV: str(results_report),
        }
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        faults, faults_s = run_pytest(["-m", "faults"], tmp_dir / "faults.xml", env)
        attacks, attacks_s = run_pytest(
            ["tests/data/test_folders.py", "-k", ATTACKS], tmp_dir / "attacks.xml", env
        )
        rows = json.loads(store_report.read_text()) if store_report.is_file() else None
        ledger = (
            [json.loads(line) for line in results_report.read_text().splitlines()]
            if results_report.is_file()
            else []
        )

    bad = [c for c in faults if c["module"].endswith(BAD_INPUTS)]
    fuzz = [c for c in faults if c["module"].endswith(FUZZ)]
    static = [c for c in faults if c["module"].endswith(STATIC)]
    injected = [c for c in faults if not c["module"].endswith((*BAD_INPUTS, FUZZ, *STATIC))]
    fuzz_n, fuzz_ok = count(fuzz)
    injected_n, survived = count(injected)
    bad_n, refused = count(bad)
    attacks_n, attacks_refused = count(attacks)
    static_n, static_ok = count(static)
    written = rows["epochs_written"] if rows else 0
    lost = rows["lost"] if rows else None
    kept = {
        what: (sum(x["finished"] for x in lines), sum(x["kept"] for x in lines), len(lines))
        for what in ("results", "epochs")
        for lines in [[x for x in ledger if x["what"] == what]]
    }
    results_lost = kept["results"][0] - kept["results"][1]
    epochs_lost = kept["epochs"][0] - kept["epochs"][1]

    print()
    print(
        table(
            ["what", "tried", "held", "meaning of held"],
            [
                ["faults injected", injected_n, survived, "survived"],
                ["bad inputs", bad_n, refused, "refused in one line naming it, or read safely"],
                ["config fuzz properties", fuzz_n, fuzz_ok, "only ConfigError, 300 examples each"],
                ["zip attacks", attacks_n, attacks_refused, "refused"],
                [
                    "code checks (unpickling, raw HTML)",
                    static_n,
                    static_ok,
                    "no unsafe call found (checks + modules scanned)",
                ],
                [
                    "epoch rows (2nd writer)",
                    written,
                    "n/a" if lost is None else written - lost,
                    f"kept, {lost if lost is not None else '?'} lost",
                ],
                [
                    f"results finished ({kept['results'][2]} fault cases)",
                    kept["results"][0],
                    kept["results"][1],
                    f"kept with their test score, {results_lost} lost",
                ],
                [
                    f"epochs finished ({kept['epochs'][2]} fault cases)",
                    kept["epochs"][0],
                    kept["epochs"][1],
                    f"kept, {epochs_lost} lost",
                ],
            ],
        )
    )
    print()
    by_module: dict[str, list[float]] = {}
    for case in faults + attacks:
        by_module.setdefault(case["module"], []).append(case["seconds"])
    print(
        table(
            ["test module", "tests", "seconds"],
            [[m, len(t), round(sum(t), 1)] for m, t in sorted(by_module.items())],
        )
    )
    print()
    print(
        table(
            ["fault case", "outcome", "seconds"],
            [
                [f"{c['module'].rpartition('.')[2]}::{c['name']}", c["outcome"], c["seconds"]]
                for c in injected
            ],
        )
    )
    print(f"\npytest -m faults: {faults_s:.1f} s wall; zip attacks: {attacks_s:.1f} s wall")
    failed = [f"{c['module']}::{c['name']}" for c in faults + attacks if c["outcome"] == "failed"]
    for name in failed:
        print(f"FAILED {name}")
    ok = (
        not failed
        and lost == 0
        and results_lost == 0
        and epochs_lost == 0
        and min(injected_n, fuzz_n, bad_n, attacks_n, kept["results"][2]) > 0
    )
    emit(
        {
            "faults_injected": injected_n,
            "faults_survived": survived,
            "fuzz_properties": fuzz_n,
            "fuzz_properties_held": fuzz_ok,
            "bad_inputs_tried": bad_n,
            "bad_inputs_refused": refused,
            "attacks_tried": attacks_n,
            "attacks_refused": attacks_refused,
            "code_checks": static_n,
            "code_checks_held": static_ok,
            "epoch_rows_written": written,
            "epoch_rows_lost": lost,
            "results_finished": kept["results"][0],
            "results_lost": results_lost,
            "epochs_finished": kept["epochs"][0],
            "epochs_lost": epochs_lost,
            "fault_cases": [f"{c['module']}::{c['name']}" for c in injected],
            "faults_seconds": round(faults_s, 1),
            "attacks_seconds": round(attacks_s, 1),
            "ok": ok,
        }
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
