#!/usr/bin/env bash
# Runs every fuzz target for a while and reports, per target, the number
# of executions and the result.
#
#   fuzz/run.sh [seconds-per-target]      (default 60)
#
# FUZZ_TARGETS="a b" runs only those targets (default: `cargo fuzz list`).
# One fuzzing process at a time.
#
# Each target starts from its seeds in corpus/<target>/ and the corpus it
# grew before (work/corpus/<target>/, ignored by git). Crashes land in
# artifacts/<target>/, logs in work/logs/. The inputs under
# regressions/<target>/ are replayed first. Exits non-zero when any
# target crashed (or failed to build).
set -uo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi

# Release build with debug assertions and overflow checks; bff and its
# dependencies are memory safe Rust, so no sanitizer (twice the speed).
build_flags=(-O --debug-assertions --sanitizer none)
if ! cargo +nightly fuzz build "${build_flags[@]}"; then
    echo "build failed"
    exit 1
fi

targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
mkdir -p work/logs
status=0
summary=()
for target in $targets; do
    mkdir -p "work/corpus/$target" "artifacts/$target"
    rm -f "work/logs/$target.regressions.log"
    extra=()
    if [[ -f "dicts/$target.dict" ]]; then
        extra+=("-dict=dicts/$target.dict")
    elif [[ "$target" == logout_token* ]]; then
        extra+=("-dict=dicts/logout_token.dict")
    fi

    # Known findings: replayed, reported, never fatal here (they fail
    # only with BFF_FUZZ_STRICT=1, see regressions/README.md).
    known=""
    replayed=0
    reproduced=0
    for input in regressions/"$target"/*; do
        [[ -f "$input" && "$(basename "$input")" != README* ]] || continue
        replayed=$((replayed + 1))
        if ! BFF_FUZZ_STRICT=1 cargo +nightly fuzz run "${build_flags[@]}" "$target" \
            "$input" >>"work/logs/$target.regressions.log" 2>&1; then
            reproduced=$((reproduced + 1))
        fi
    done
    if ((replayed > 0)); then
        known="; known findings: $reproduced of $replayed in regressions/$target/ reproduce"
    fi

    log="work/logs/$target.log"
    echo "== $target: ${seconds}s"
    cargo +nightly fuzz run "${build_flags[@]}" "$target" \
        "work/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
    rc=$?
    # Final stats when the run ends normally, else the last progress line.
    execs="$(awk '/stat::number_of_executed_units/ { n = $2 }
        /^#[0-9]+/ && !n { sub("#", "", $1); last = $1 }
        END { print (n ? n : last + 0) }' "$log")"
    if ((rc == 0)); then
        result="ok"
    else
        result="CRASH (exit $rc; see $log and artifacts/$target/)"
        status=1
    fi
    line="$(printf '%-22s %12s execs  %s%s' "$target" "$execs" "$result" "$known")"
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
