#!/usr/bin/env bash
# Streams a file through `shmring produce | shmring consume` and through its
# anchors, side by side in one run, and prints MB/s and ratios:
#   - BIG_MB (400) MB at 256 x 64 KiB vs `cat FILE | cat > /dev/null`;
#   - SMALL_MB (8) MB at the original geometry, 10 x 64 B, vs the original
#     Python design (drivers/python/shared_buffer.py through
#     bench/py_stream.py).
# Each figure is the best of RUNS (3) runs. Usage, from anywhere:
#   shmring-cli/bench/stream.sh [BIG_MB] [SMALL_MB] [RUNS]
# Builds shmring in release mode (CARGO_TARGET_DIR, default target/).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
big_mb=${1:-400}
small_mb=${2:-8}
runs=${3:-3}
target=${CARGO_TARGET_DIR:-$repo/target}
(cd "$repo" && CARGO_TARGET_DIR=$target cargo build --release -q -j2 -p shmring-cli)
bin=$target/release/shmring

tmp=$(mktemp -d)
rings=()
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    for r in "${rings[@]}"; do "$bin" rm "$r" 2>/dev/null || true; done
    rm -f /dev/shm/"bench-py-$$" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# Seconds, with nanoseconds.
now() { date +%s.%N; }

# best_of CMD...: the shortest wall time of $runs runs of CMD.
best_of() {
    local best="" t0 t1 t
    for _ in $(seq "$runs"); do
        t0=$(now)
        "$@"
        t1=$(now)
        t=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}

mbps() { printf '%.1f' "$(echo "$1 / $2 / 1000000" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

head -c $((big_mb * 1000000)) /dev/urandom >"$tmp/big"
head -c $((small_mb * 1000000)) /dev/urandom >"$tmp/small"

big_ring="bench-$$-big"
small_ring="bench-$$-small"
rings=("$big_ring" "$small_ring")
# One producer and one consumer per stream: rings with single roles, which
# take the locks off the data path (`shmring create --single-roles`).
"$bin" create "$big_ring" --capacity 256 --item-size 65536 --single-roles 2>/dev/null
"$bin" create "$small_ring" --capacity 10 --item-size 64 --single-roles 2>/dev/null

cat_pipe() { cat "$tmp/big" | cat >/dev/null; }
# The same job as cat_pipe: one process reads FILE, another writes what it
# gets to /dev/null, and the bytes cross between them.
shmring_pipe() { # RING FILE
    "$bin" consume "$1" --quiet >/dev/null &
    local c=$!
    "$bin" produce "$1" --quiet --input "$2"
    wait "$c"
}
python_pipe() {
    python3 "$here/py_stream.py" consume "bench-py-$$" >/dev/null &
    local c=$!
    python3 "$here/py_stream.py" produce "bench-py-$$" <"$tmp/small"
    wait "$c"
}
check() { # RING FILE: the output is the input
    "$bin" consume "$1" --quiet --output "$tmp/check" &
    local c=$!
    "$bin" produce "$1" --quiet --input "$2"
    wait "$c"
    cmp -s "$2" "$tmp/check" || { echo "shmring output differs from input" >&2; exit 1; }
    rm -f "$tmp/check"
}
check "$big_ring" "$tmp/small"
check "$small_ring" "$tmp/small"

big_bytes=$((big_mb * 1000000))
small_bytes=$((small_mb * 1000000))
t_cat=$(best_of cat_pipe)
t_big=$(best_of shmring_pipe "$big_ring" "$tmp/big")
t_small=$(best_of shmring_pipe "$small_ring" "$tmp/small")
have_python=1
command -v python3 >/dev/null || have_python=0
if [ "$have_python" = 1 ]; then t_py=$(best_of python_pipe); fi

printf '%-58s %10s %s\n' "scenario" "MB/s" "ratio"
printf '%-58s %10s %s\n' "shmring produce | consume, 256 x 64 KiB, $big_mb MB" \
    "$(mbps $big_bytes "$t_big")" "$(ratio "$t_cat" "$t_big")x cat | cat"
printf '%-58s %10s\n' "cat FILE | cat > /dev/null, $big_mb MB" "$(mbps $big_bytes "$t_cat")"
if [ "$have_python" = 1 ]; then
    printf '%-58s %10s %s\n' "shmring produce | consume, 10 x 64 B, $small_mb MB" \
        "$(mbps $small_bytes "$t_small")" "$(ratio "$t_py" "$t_small")x the Python original"
    printf '%-58s %10s\n' "the original Python design, 10 x 64 B, $small_mb MB" "$(mbps $small_bytes "$t_py")"
else
    printf '%-58s %10s %s\n' "shmring produce | consume, 10 x 64 B, $small_mb MB" \
        "$(mbps $small_bytes "$t_small")" "(python3 not found: no Python figure)"
fi
echo "(best of $runs runs each; $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg))"
