#!/usr/bin/env bash
# The mutation score of server/src against the harness's verdicts.
#
# cargo-mutants plants one mutant at a time in server/src; the test command is not the unit
# tests and not the snapshots but the checkers' verdicts: the herd-file corpus (`sim check-herds
# scenarios/herds`), every scenario, then a slice of swarm seeds (sim/tests/verdicts.rs),
# stopping at the first run that fails. Then the outcomes are sorted per file:
#
#   killed     a checker failed (sim exit 1, 2 or 3)
#   survived   every verdict passed
#   hung       the test command ran past the timeout: no verdict, so not a kill
#   rejected   the harness refused its own input (exit 4 or another code): not a kill
#   unviable   the mutant does not compile
#   equivalent listed in sim/mutants-equivalent.txt with its reason: not counted
#
# score = killed / (killed + survived), over behaviour-changing, non-equivalent mutants.
#
# Usage:
#   sim/mutants.sh                       # every mutant in server/src (long: see docs/mutation.md)
#   sim/mutants.sh -f server/src/store.rs --shard 1/4   # any cargo-mutants options
#   sim/mutants.sh --only FILE [...]     # only the mutants FILE names, one per line as
#                                        # `cargo mutants --list` prints them
#   sim/mutants.sh --report DIR...       # only print the table of earlier runs; where two
#                                        # runs tested one mutant (same file and description,
#                                        # any line), the later DIR's outcome wins; a
#                                        # mutant today's tree no longer has is left out
#
# Environment: MUTANTS_OUT (default target/mutants) is where cargo-mutants writes;
# SIM_VERDICT_SEEDS (default 0..40) is the swarm slice of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${MUTANTS_OUT:-target/mutants}"
equivalents="sim/mutants-equivalent.txt"

if [[ "${1:-}" != "--report" ]]; then
  only=()
  if [[ "${1:-}" == "--only" ]]; then
    list="${2:?--only needs a file of mutant names}"
    shift 2
    while IFS= read -r name; do
      [[ -n "$name" ]] || continue
      only+=(--re "^$(printf '%s' "$name" | python3 -c 'import re,sys; print(re.escape(sys.stdin.read()), end="")')\$")
    done <"$list"
  fi
  if ! cargo mutants --version >/dev/null 2>&1; then
    echo "cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
    exit 64
  fi
  files=(-f 'server/src/**/*.rs')
  for arg in "$@"; do
    if [[ "$arg" == -f || "$arg" == --file || "$arg" == --file=* ]]; then files=(); fi
  done
  mkdir -p "$out"
  # The unmutated tree must pass first. (cargo-mutants' own baseline would run only the
  # mutated package's tests, not the harness's, so it is skipped below.)
  echo "baseline: the verdicts on the unmutated tree" >&2
  cargo test --profile mutants -p sim --test verdicts -- --ignored
  # Exit status 2 means "some mutants survived", which is what the table below is for.
  status=0
  cargo mutants \
    --package server --test-package sim --cargo-arg=--test=verdicts --profile mutants \
    --baseline skip \
    --output "$out" --timeout 300 --build-timeout 1800 \
    "${files[@]}" "${only[@]}" "$@" \
    -- -- --ignored || status=$?
  if [[ $status -ne 0 && $status -ne 2 && $status -ne 3 ]]; then
    echo "cargo mutants failed (exit $status); see $out/mutants.out" >&2
    exit "$status"
  fi
  dirs=("$out/mutants.out")
else
  shift
  [[ $# -gt 0 ]] || { echo "--report needs the output directory of an earlier run" >&2; exit 64; }
  dirs=()
  for dir in "$@"; do dirs+=("$dir/mutants.out"); done
fi

# The mutants of today's tree: a run's outcome for a mutant whose code is gone since (a
# function removed, or made test-only) no longer counts.
current="$(mktemp)"
trap 'rm -f "$current"' EXIT
cargo mutants --list --package server -f 'server/src/**/*.rs' >"$current"

python3 - "$equivalents" "$current" "${dirs[@]}" <<'PY'
import json, re, sys
from collections import defaultdict
from pathlib import Path

equivalents_path, current_path = Path(sys.argv[1]), Path(sys.argv[2])
roots = [Path(a) for a in sys.argv[3:]]

def key(name):
    # "server/src/store.rs:123:9: replace X with Y" -> "server/src/store.rs: replace X with Y":
    # line numbers move with every edit; the file and the description do not.
    return re.sub(r":\d+:\d+:", ":", name, count=1)

equivalent = {}
for line in equivalents_path.read_text().splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    mutant, _, reason = line.partition(" # ")
    equivalent[key(mutant.strip())] = reason.strip()

# The latest run's outcomes of each mutant, by file and description (without line numbers,
# which move between the trees of two runs): a later run's outcomes for a description replace
# every earlier one's, so it must test all the mutants that share it (a description can name
# several mutants of one function).
latest = {}
for root in roots:
    this_run = defaultdict(list)
    for outcome in json.loads((root / "outcomes.json").read_text())["outcomes"]:
        scenario = outcome["scenario"]
        if not isinstance(scenario, dict) or "Mutant" not in scenario:
            if outcome["summary"] != "Success":
                sys.exit(f"{root}: the unmutated baseline did not pass: {outcome['summary']}")
            continue
        this_run[key(scenario["Mutant"]["name"])].append((root, outcome))
    latest.update(this_run)
current = {key(line.strip()) for line in current_path.read_text().splitlines() if line.strip()}
gone = sorted(k for k in latest if k not in current)
for k in gone:
    del latest[k]
counts = defaultdict(lambda: defaultdict(int))
survivors, rejected = [], []
used = set()
for root, outcome in (entry for entries in latest.values() for entry in entries):
    mutant = outcome["scenario"]["Mutant"]
    name = mutant["name"]
    file = mutant["file"]
    summary = outcome["summary"]
    if key(name) in equivalent:
        used.add(key(name))
        kind = "equivalent"
    elif summary == "CaughtMutant":
        log = (root / outcome["log_path"]).read_text(errors="replace")
        kind = "rejected" if "verdict: harness-rejected" in log else "killed"
        if kind == "rejected":
            rejected.append(name)
    elif summary == "MissedMutant":
        kind = "survived"
        survivors.append(name)
    elif summary == "Timeout":
        kind = "hung"
    elif summary == "Unviable":
        kind = "unviable"
    else:
        kind = summary.lower()
    counts[file][kind] += 1

columns = ["killed", "survived", "hung", "rejected", "unviable", "equivalent"]
print(f"{'file':34} " + " ".join(f"{c:>10}" for c in columns) + "      score")
total = defaultdict(int)
def row(label, c):
    judged = c["killed"] + c["survived"]
    score = f"{100 * c['killed'] / judged:6.1f}%" if judged else "      -"
    print(f"{label:34} " + " ".join(f"{c[k]:>10}" for k in columns) + f"    {score}")
for file in sorted(counts):
    row(file, counts[file])
    for k, v in counts[file].items():
        total[k] += v
row("total", total)
if survivors:
    print("\nsurvivors:")
    for name in sorted(survivors):
        print(f"  {name}")
if gone:
    print(f"\nnot counted: {len(gone)} mutants tested earlier whose code is no longer in server/src:")
    for k in gone:
        print(f"  {k}")
if rejected:
    print("\nrejected by the harness (not kills):")
    for name in sorted(rejected):
        print(f"  {name}")
PY
