#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after the other, and prints
# per target the executions (libFuzzer's final stats) and crashes, then the total.
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
# A crash stops libFuzzer; the target is restarted for the rest of its time, so one run can
# report several crashes. Crashing inputs land in fuzz/artifacts/TARGET/, reproduce one with
#   RUSTFLAGS="--cfg tokio_unstable" cargo +nightly fuzz run -s none -a TARGET FILE
# and the corpus grows in fuzz/corpus/TARGET/.
# Exit status: 0 when nothing crashed, 1 otherwise.
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2
    exit 64
fi
seconds_per_target=$1
shift
cd "$(dirname "$0")/.."

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(protocol_parse line_reader herd_file scenario_file)
fi

# Setting RUSTFLAGS hides .cargo/config.toml's flags, so repeat them (cargo-fuzz appends these).
export RUSTFLAGS="--cfg tokio_unstable"
# No sanitizer: the code under test has no `unsafe`, and libFuzzer runs several times faster
# without ASan. Debug assertions stay on, so overflow checks and `debug_assert!`s fire.
fuzz_flags=(-s none -a)
cargo +nightly fuzz build "${fuzz_flags[@]}"

# Extra read-only corpus directories and the dictionary of each target.
seeds_of() {
    case $1 in
    protocol_parse) echo "fuzz/seeds/protocol_parse" ;;
    line_reader) echo "fuzz/seeds/line_reader" ;;
    herd_file) echo "scenarios/herds" ;;
    scenario_file) echo "scenarios scenarios/regressions" ;;
    esac
}
dict_of() {
    case $1 in
    protocol_parse | line_reader) echo "fuzz/dicts/protocol.dict" ;;
    *) echo "fuzz/dicts/yaml.dict" ;;
    esac
}

count_artifacts() {
    [[ -d fuzz/artifacts/$1 ]] || {
        echo 0
        return
    }
    find "fuzz/artifacts/$1" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
        -o -name 'leak-*' \) | wc -l
}

mkdir -p fuzz/logs
total_execs=0
total_crashes=0
total_seconds=0
report=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    seeds=()
    for dir in $(seeds_of "$target"); do
        [[ -d $dir ]] && seeds+=("$dir")
    done
    before=$(count_artifacts "$target")
    execs=0
    started=$SECONDS
    runs=0
    log="fuzz/logs/$target.log"
    : >"$log"
    while ((SECONDS - started < seconds_per_target && runs < 20)); do
        left=$((seconds_per_target - (SECONDS - started)))
        runs=$((runs + 1))
        cargo +nightly fuzz run "${fuzz_flags[@]}" "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
            -max_total_time="$left" -print_final_stats=1 -dict="$(dict_of "$target")" \
            -timeout=10 -rss_limit_mb=1024 >>"$log" 2>&1 || true
        n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
        execs=$((execs + n))
        # Mark this run's stats as counted, so the next run's line is the one read.
        sed -i 's/stat::number_of_executed_units/counted::number_of_executed_units/' "$log"
    done
    elapsed=$((SECONDS - started))
    crashes=$(($(count_artifacts "$target") - before))
    total_execs=$((total_execs + execs))
    total_crashes=$((total_crashes + crashes))
    total_seconds=$((total_seconds + elapsed))
    rate=$((elapsed > 0 ? execs / elapsed : 0))
    report+=("$(printf '%-15s %8d %13d %10d %8d' "$target" "$elapsed" "$execs" "$rate" "$crashes")")
    echo "${report[-1]}   (log: $log)" >&2
done

printf '%-15s %8s %13s %10s %8s\n' target seconds execs execs/s crashes
printf '%s\n' "${report[@]}"
printf '%-15s %8d %13d %10s %8d\n' total "$total_seconds" "$total_execs" "" "$total_crashes"
((total_crashes == 0))
