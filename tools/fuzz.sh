#!/usr/bin/env bash
# Bounded fuzz runs of the decoder and the line parser: `make fuzz` (CI: 10 s each) or
# `make fuzz FUZZ_SECONDS=600` for a real session. New corpus entries stay local (gitignored);
# commit only small `seed-*` files, and turn any crash into a regression test.
set -euo pipefail
secs=${1:-20}
targets=${2:-decode line}
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
# cargo-fuzz is installed into the project (.tools, gitignored), like every other tool: never globally.
export PATH="$root/.tools/bin:$PATH"
[ -x "$root/.tools/bin/cargo-fuzz" ] || cargo install --root "$root/.tools" cargo-fuzz --locked --version 0.13.2
# cargo fuzz passes -Z flags; this machine has a stable toolchain only.
export RUSTC_BOOTSTRAP=1
mkdir -p target
for target in $targets; do
  mkdir -p "corpus/$target"
  log="target/fuzz-$target.log"
  if ! cargo fuzz run --sanitizer address "$target" "corpus/$target" -- \
      -max_total_time="$secs" -max_len=262144 -rss_limit_mb=1024 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target failed: see fuzz/$log and fuzz/artifacts/$target" >&2
    exit 1
  fi
  echo "fuzz $target: $(grep -E '^Done [0-9]+ runs' "$log" | tail -1)"
done
