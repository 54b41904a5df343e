#!/usr/bin/env bash
# Builds a debug copy of the addon with AddressSanitizer + UndefinedBehaviorSanitizer and runs the
# native-backed node test files against it.   native/asan/run.sh [test files...]
#
# Everything lives under build-asan/ (git-ignore it; not build/, which `npm install`'s rebuild wipes):
# a node-gyp dir for the debug build, and a shadow package with copies of src/ and test/ whose
# build/Release/fastconv.node is the sanitized build, so the tests load it through the normal loader.
# node itself is not instrumented: libasan is preloaded into it and leak detection is off (node's own
# allocations at exit would drown the report).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$root/build-asan"
gyp_dir="$work/gyp"
pkg="$work/pkg"
start=$(date +%s)

mkdir -p "$gyp_dir"
cp "$root/binding.gyp" "$gyp_dir/binding.gyp"
ln -sfn "$root/native" "$gyp_dir/native"

gyp="$(dirname "$(command -v node)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || gyp="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
nodedir="$(cd "$(dirname "$(command -v node)")/.." && pwd)"

# -O1 keeps the suite's run time sane; frame pointers make ASan's stacks readable. The flags go in
# through the environment, which gyp's Makefiles append to every target (incl. the per-ISA libraries).
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
(
  cd "$gyp_dir"
  CFLAGS="$san" CXXFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" \
    node "$gyp" configure build --debug -j "$(nproc)" "--nodedir=$nodedir" >"$work/build.log" 2>&1
) || { tail -30 "$work/build.log"; echo "asan: build failed (log: $work/build.log)"; exit 1; }
built=$(date +%s)
echo "asan: addon built in $((built - start)) s"

# The shadow package: the package root the loader finds (package.json named fastconv) is $pkg.
rm -rf "$pkg/src" "$pkg/test"
mkdir -p "$pkg/build/Release"
cp -r "$root/src" "$root/test" "$root/bench" "$pkg/"
# Scripts some tests import or run (the interface table, the selfchecks).
mkdir -p "$pkg/native" "$pkg/assembly"
cp "$root"/native/*.mjs "$root"/native/*.cjs "$pkg/native/"
cp "$root"/assembly/*.mjs "$pkg/assembly/"
# The generated interface files beside them (params.test.ts checks they match the table).
mkdir -p "$pkg/native/conv"
node "$pkg/native/gen-interface.mjs" >/dev/null
cp "$root/package.json" "$root/tsconfig.json" "$pkg/"
ln -sfn "$root/node_modules" "$pkg/node_modules"
# dist/ (compiled by tsc) is what worker_threads tests import.
rm -rf "$pkg/dist"
[ -d "$root/dist/src" ] && { mkdir -p "$pkg/dist"; cp -r "$root/dist/src" "$pkg/dist/src"; }
[ -d "$root/assembly/build" ] && { mkdir -p "$pkg/assembly"; rm -rf "$pkg/assembly/build"; cp -r "$root/assembly/build" "$pkg/assembly/build"; }
cp "$gyp_dir/build/Debug/fastconv.node" "$pkg/build/Release/fastconv.node"

# Native-backed test files, minus those that add nothing here: LeNet training (long, covered by the
# backward tests), install (rebuilds the real addon), qemu and neon.qemu (the sanitizer runtime does not
# start under qemu-user; the NEON harness is a separate cross-built binary), bench (a perf tool), api (its one failure here is by design: the load-time probe rightly
# finds the unoptimized sanitized addon slower than wasm and selects wasm), and the wasm-only files
# (wasm-*, wasm.*, layers.wasm-store): they run no native code, and under the preloaded runtime they
# took 12 of the suite's 17 minutes.
if [ $# -gt 0 ]; then files=("$@"); else
  files=()
  for f in "$pkg"/test/*.test.ts; do
    case "$(basename "$f")" in
      lenet.test.ts|install.test.ts|qemu.test.ts|neon.qemu.test.ts|bench.test.ts|api.test.ts) ;;
      # Timing by design, like api: dispatch.choice times the real backends (the -O1 sanitized addon
      # rightly loses to wasm); hostile.property and layers-suite give each batch or layer a time
      # budget sized for the optimized addon (the normal leg runs them; their children catch crashes).
      dispatch.choice.test.ts|hostile.property.test.ts|layers-suite.test.ts) ;;
      wasm-*.test.ts|wasm.*.test.ts|*.wasm.test.ts|layers.wasm-store.test.ts) ;;
      *) files+=("test/$(basename "$f")") ;;
    esac
  done
fi

export LD_PRELOAD="$(g++ -print-file-name=libasan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:print_summary=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export FASTCONV_ASAN=1
cd "$pkg"
# Sanity: the sanitized addon must be the one that loads.
node -e "const a=require('./build/Release/fastconv.node'); if(!a.info().isa) process.exit(1)"
status=0
"$root/node_modules/.bin/vitest" run --config test/vitest.config.ts "${files[@]}" || status=$?
end=$(date +%s)
echo "asan: tests $( [ $status -eq 0 ] && echo clean || echo FAILED ) in $((end - built)) s (total $((end - start)) s)"
exit $status
