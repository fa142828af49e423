#!/usr/bin/env bash
# Explore against the scenarios and the swarm: each mutant of a sample judged two ways.
#
# This script owns the measured sample in docs/mutation.md ("Explore against the scenarios and
# the swarm"). It draws the sample from `cargo mutants --list` over server/src, plants each
# mutant (cargo-mutants' own diff) in a scratch copy of the committed tree, builds it with the
# `mutants` profile as sim/mutants.sh does, and judges it twice:
#
#   A  the hand-written verdicts: sim/tests/verdicts.rs (the herd-file corpus, every scenario)
#      with swarm seeds SIM_VERDICT_SEEDS (default 0..500), stopping at the first failure
#   B  `sim explore` from an empty corpus, none of the scenarios: `--time T --runs 1000000
#      --jobs 2`, stopping at the first failure; a failure counts only when the unmutated
#      build passes its scenario, or fails another checker on it (explore finds failures on
#      the unmutated tree too): else the search runs its whole time T to find one that does
#
# Each is killed (sim exit 1, 2 or 3), survived (every run passed), hung (past its timeout) or
# rejected (exit 4 or another code: not a kill); a mutant that does not build is unviable. The
# unmutated tree must pass A first. One line per mutant goes to OUT/results.tsv; a mutant
# already there is skipped, so a run can be resumed.
#
# Usage:
#   sim/mutants-explore.sh --sample K    # the sample: every K-th mutant of the list, those in
#                                        # sim/mutants-equivalent.txt left out, in a fixed
#                                        # shuffled order (so any prefix is a uniform sample)
#   sim/mutants-explore.sh FILE          # judge the mutants FILE names, one per line
#   sim/mutants-explore.sh --report      # the table and the totals of OUT/results.tsv
#
# Environment: MUTX_OUT (default target/mutants-explore), MUTX_TIME (B's T, default 2m),
# SIM_VERDICT_SEEDS (A's swarm seeds, default 0..500), MUTX_A_TIMEOUT (A's bound in seconds,
# default 1200), MUTX_SKIP_A=1 (judge B alone: A is written `skipped`, to judge again with a
# longer T the mutants B did not kill, whose A is known).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${MUTX_OUT:-target/mutants-explore}"
out="$(mkdir -p "$out" && cd "$out" && pwd)"
tree="$out/tree"
export CARGO_TARGET_DIR="$out/target"
export SIM_VERDICT_SEEDS="${SIM_VERDICT_SEEDS:-0..500}"
time_b="${MUTX_TIME:-2m}"
a_timeout="${MUTX_A_TIMEOUT:-1200}"
results="$out/results.tsv"

key() { sed -E 's/:[0-9]+:[0-9]+:/:/'; }

if [[ "${1:-}" == "--report" ]]; then
  python3 - "$results" <<'PY'
import re, sys, textwrap
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print("```text")
for i, (name, a, a_by, a_s, b, b_label, b_run, b_s) in enumerate(rows, 1):
    place, _, what = re.sub(r"^server/src/", "", name).partition(": ")
    place = re.sub(r":(\d+):\d+$", r":\1", place)
    for j, part in enumerate(textwrap.wrap(f"{place} {what}", 94)):
        print(f"{i:>3} " + part if j == 0 else f"      {part}")
    if a == "unviable":
        print("      unviable: it does not compile")
        continue
    m = re.search(r"killed \((\w+).*? by (\S+)", a_by)
    kind = {"system": "crash"}.get(m.group(1), m.group(1)) if m else ""
    print(f"      A: {a} ({kind}) by {m.group(2)}" if a == "killed" and m else f"      A: {a}")
    print(f"      B: {b} ({b_label}) at run {b_run}, {b_s} s" if b == "killed" else f"      B: {b}")
print("```")
viable = [r for r in rows if r[1] != "unviable"]
ka = sum(r[1] == "killed" for r in viable)
kb = sum(r[4] == "killed" for r in viable)
both = sum(r[1] == "killed" and r[4] == "killed" for r in viable)
print(f"\n{len(rows)} mutants, {len(viable)} viable: killed by A {ka}, by B {kb}, by both {both}, "
      f"by A only {ka - both}, by B only {kb - both}, by neither {len(viable) - ka - kb + both}")
PY
  exit 0
fi

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
  exit 64
fi

# The scratch tree: the committed tree, with a pristine copy of server/src to restore from,
# made again when the code, the scenarios or the lock file change (not for a docs commit).
code="$(git rev-parse HEAD:server HEAD:sim/src HEAD:sim/tests HEAD:scenarios HEAD:Cargo.lock)"
if [[ ! -d "$tree" || "$(cat "$out/tree.commit" 2>/dev/null)" != "$code" ]]; then
  rm -rf "$tree" "$out/pristine" "$out/mutants.json" "$out"/baseline-?.ok "$out/sim-unmutated"
  mkdir -p "$tree" "$out/pristine"
  git archive HEAD | tar -x -C "$tree"
  cp -a "$tree/server/src" "$out/pristine/"
  echo "$code" >"$out/tree.commit"
fi
if [[ ! -f "$out/mutants.json" ]]; then
  (cd "$tree" && cargo mutants --list --json --diff --package server -f 'server/src/**/*.rs') \
    >"$out/mutants.json"
fi

if [[ "${1:-}" == "--sample" ]]; then
  step="${2:?--sample needs K}"
  python3 - "$out/mutants.json" sim/mutants-equivalent.txt "$step" <<'PY'
import json, random, re, sys
key = lambda n: re.sub(r":\d+:\d+:", ":", n, count=1)
equivalent = {key(l.partition(" # ")[0].strip()) for l in open(sys.argv[2])
              if l.strip() and not l.startswith("#")}
names = [m["name"] for m in json.load(open(sys.argv[1]))]
kept = [n for n in names if key(n) not in equivalent]
sample = kept[::int(sys.argv[3])]
random.Random(0).shuffle(sample)
print("\n".join(sample))
PY
  exit 0
fi

list="${1:?usage: sim/mutants-explore.sh --sample K | FILE | --report}"
list="$(cd "$(dirname "$list")" && pwd)/$(basename "$list")"
mkdir -p "$out/logs"
touch "$results"
cd "$tree"

build() { timeout 1800 cargo test --locked --profile mutants -p sim --test verdicts --no-run; }

# judge_a LOG: prints "outcome<TAB>by<TAB>seconds".
judge_a() {
  local start status=0 outcome by=""
  if [[ "${MUTX_SKIP_A:-}" == 1 ]]; then printf 'skipped\t\t0\n'; return; fi
  start=$(date +%s)
  timeout "$a_timeout" cargo test --locked --profile mutants -p sim --test verdicts \
    -- --ignored >"$1" 2>&1 || status=$?
  case "$status" in
    0) outcome=survived ;;
    124) outcome=hung ;;
    *) if grep -q "verdict: killed" "$1"; then outcome=killed
       else outcome=rejected; fi
       by="$(grep -o -m1 'verdict: .*' "$1" | head -c 120 || true)" ;;
  esac
  printf '%s\t%s\t%s\n' "$outcome" "$by" "$(($(date +%s) - start))"
}

# first_kill DIR LOG: the label and run of the first failure in DIR/failures (the first of each
# class/checker) that is the mutant's: its scenario passes on the unmutated build, or fails
# another checker there. Explore fails some runs of the unmutated tree too (docs/mutation.md).
first_kill() {
  local run file label replay
  for run in $(ls "$1/failures" 2>/dev/null | sed -nE 's/^run-([0-9]+)\.yaml$/\1/p' | sort -n); do
    file="$1/failures/run-$run.yaml"
    label="$(sed -nE '1s/^name: "explore run [0-9]+: ([^" ]+).*/\1/p' "$file")"
    # `FAIL durable (safety)` in the unmutated replay is the label `safety/durable`.
    # A herd the mutant's loader did not take as made: its herd file is the replay.
    if [ -f "$1/failures/run-$run.herd.yaml" ]; then
      replay="$("$out/sim-unmutated" check-herds "$1/failures/run-$run.herd.yaml" 2>&1 || true)"
    else
      replay="$("$out/sim-unmutated" -q "$file" 2>&1 || true)"
    fi
    if ! sed -nE 's/^ *FAIL ([a-z_-]+) \(([a-z]+)\).*/\2\/\1/p' <<<"$replay" \
      | grep -xF "$label" >/dev/null; then
      printf '%s\t%s\n' "$label" "$run"
      return
    fi
    echo "    explore run $run ($label) fails on the unmutated tree too: not a kill" >>"$2"
  done
}

# explore DIR LOG [ARG...]: the search from an empty corpus in DIR; prints its exit status.
explore() {
  local dir="$1" log="$2" status=0
  shift 2
  timeout $((30 * 60)) "${sim_b:-$CARGO_TARGET_DIR/mutants/sim}" explore --time "$time_b" \
    --runs 1000000 --jobs 2 --corpus "$dir" "$@" >"$log" 2>&1 || status=$?
  echo "$status"
}

# judge_b LOG: prints "outcome<TAB>first failure<TAB>its run<TAB>seconds". The search stops at
# its first failure; when that one is the unmutated tree's too, the search runs again for its
# whole time T (the same runs, in the same order, as far as the first got) and its first
# failure that is the mutant's, if any, is the kill.
judge_b() {
  local dir status found="" log="$1"
  dir="$(mktemp -d -p "$out")"
  status="$(explore "$dir" "$log" --until "")"
  if [[ "$status" == [123] ]]; then found="$(first_kill "$dir" "$log")"; fi
  if [[ -z "$found" && "$status" == [123] ]]; then
    rm -rf "$dir" && mkdir "$dir"
    log="$1.full"
    status="$(explore "$dir" "$log")"
    if [[ "$status" == [123] ]]; then found="$(first_kill "$dir" "$log")"; fi
  fi
  rm -rf "$dir"
  case "$status" in
    124) printf 'hung\t\t\t\n'; return ;;
    [0123]) ;;
    *) printf 'rejected\t\t\t\n'; return ;;
  esac
  if [[ -z "$found" ]]; then printf 'survived\t\t\t\n'; return; fi
  # The time to kill: the first search's wall time when it stopped at the kill, else runs /
  # rate at the whole search's first progress line at or past the killing run.
  local seconds
  if [[ "$log" == "$1" ]]; then
    seconds="$(sed -nE 's/^== explore summary: .* ([0-9.]+) s wall$/\1/p' "$log")"
  else
    seconds="$(sed -nE 's/^explore: ([0-9]+) runs \(([0-9.]+)\/s\).*/\1 \2/p' "$log" \
      | awk -v r="${found#*$'\t'}" '$1 >= r { printf "%.0f", $1 / $2; exit }')"
  fi
  printf 'killed\t%s\t%s\n' "$found" "$seconds"
}

# The baseline: the unmutated tree must pass A; B's failures on it are printed, and its build
# is kept to replay B's failures against.
if [[ ! -f "$out/baseline-a.ok" ]]; then
  echo "baseline: the unmutated tree, A" >&2
  build >"$out/logs/baseline-build.log" 2>&1
  cp "$CARGO_TARGET_DIR/mutants/sim" "$out/sim-unmutated"
  a="$(judge_a "$out/logs/baseline-a.log")"
  if [[ "$a" != survived* && "$a" != skipped* ]]; then
    echo "the unmutated tree fails the verdicts; see $out/logs/baseline-a.log" >&2
    exit 1
  fi
  printf '%s\n' "$a" >"$out/baseline-a.ok"
fi
[[ -x "$out/sim-unmutated" ]] || { build >"$out/logs/baseline-build.log" 2>&1 &&
  cp "$CARGO_TARGET_DIR/mutants/sim" "$out/sim-unmutated"; }

n=0
while IFS= read -r name; do
  [[ -n "$name" ]] || continue
  n=$((n + 1))
  if cut -f1 "$results" | grep -qxF "$name"; then continue; fi
  echo "[$n] $name" >&2
  rm -rf "$tree/server/src" && cp -a "$out/pristine/src" "$tree/server/src"
  python3 - "$out/mutants.json" "$name" >"$out/mutant.diff" <<'PY'
import json, sys
mutant = next(m for m in json.load(open(sys.argv[1])) if m["name"] == sys.argv[2])
old, new, rest = mutant["diff"].split("\n", 2)  # "+++" names the mutant, not a file
print(f"{old}\n+++ {mutant['file']}\n{rest}", end="")
PY
  patch -s -p0 -d "$tree" <"$out/mutant.diff"
  log="$out/logs/$n"
  if ! build >"$log-build.log" 2>&1; then
    if ! grep -q 'could not compile `server`' "$log-build.log"; then
      echo "the build failed outside server/src; see $log-build.log" >&2
      exit 1
    fi
    printf '%s\tunviable\t\t\tunviable\t\t\t0\n' "$name" >>"$results"
    continue
  fi
  a="$(judge_a "$log-a.log")"
  b="$(judge_b "$log-b.log")"
  echo "    A: $a" >&2
  echo "    B: $b" >&2
  printf '%s\t%s\t%s\n' "$name" "$a" "$b" >>"$results"
done <"$list"
rm -rf "$tree/server/src" && cp -a "$out/pristine/src" "$tree/server/src"

# B on the unmutated tree, last (the mutants do not need it: each failure is replayed on the
# unmutated build): which failures explore finds on a correct herd within T.
if [[ ! -f "$out/baseline-b.ok" ]]; then
  echo "baseline: the unmutated tree, B" >&2
  sim_b="$out/sim-unmutated" judge_b "$out/logs/baseline-b.log" >"$out/baseline-b.ok"
  grep '^failure ' "$out/logs/baseline-b.log" >&2 || true
fi
