#!/usr/bin/env bash
# Iron Function build entry point: ./build.sh [--arch x86_64|arm64] [build|test|bench|layer [policy.json]|demo]
set -euo pipefail
cd "$(dirname "$0")"

# the host's build goes to dist/; --arch arm64 on an x86_64 machine cross-compiles into dist/linux-arm64/
case "$(uname -m)" in aarch64 | arm64) HOST_ARCH=arm64 ;; *) HOST_ARCH=x86_64 ;; esac
ARCH="$HOST_ARCH"
if [ "${1:-}" = "--arch" ]; then
  case "${2:-}" in x86_64 | arm64) ARCH="$2" ;; *) echo "usage: ./build.sh --arch x86_64|arm64 [command]" >&2; exit 2 ;; esac
  shift 2
fi
rid_of() { [ "$1" = arm64 ] && echo linux-arm64 || echo linux-x64; }
dist_of() { [ "$1" = "$HOST_ARCH" ] && echo "$PWD/dist" || echo "$PWD/dist/$(rid_of "$1")"; }
RID="$(rid_of "$ARCH")"
DIST="$(dist_of "$ARCH")"

# What an arm64 cross build (clang, the aarch64 gcc, binutils and libc) and its tests (qemu-user) need on an
# x86_64 Debian machine, installed when missing; 1 when they are missing and cannot be installed.
cross_tools() {
  local missing=()
  command -v clang >/dev/null || missing+=(clang)
  command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
  command -v aarch64-linux-gnu-objcopy >/dev/null || missing+=(binutils-aarch64-linux-gnu)
  [ -e /usr/aarch64-linux-gnu/lib/libc.so ] || missing+=(libc6-dev-arm64-cross)
  command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "the arm64 cross build needs: ${missing[*]} (Debian packages; install them as root)" >&2
    return 1
  fi
  echo "installing ${missing[*]} for the arm64 cross build"
  apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
}
if [ "$ARCH" != "$HOST_ARCH" ]; then
  [ "$ARCH" = arm64 ] || { echo "cross builds go from x86_64 to arm64 only" >&2; exit 2; }
  cross_tools
fi

publish() {
  local rid="${1:-$RID}" dist="${2:-$DIST}"
  dotnet publish src/IronFunction/IronFunction.csproj -c Release -r "$rid" -o "$dist" -nologo -clp:NoSummary -v:q
  rm -f "$dist/lib_iron_function.so.dbg"
  echo "built $dist/lib_iron_function.so"
  # the library's log formatter, loaded beside it at its first log message (src/IronFunction.Log)
  dotnet publish src/IronFunction.Log/IronFunction.Log.csproj -c Release -r "$rid" -o "$dist" -nologo -clp:NoSummary -v:q
  rm -f "$dist/lib_iron_function_log.so.dbg"
  echo "built $dist/lib_iron_function_log.so"
  # the tool, with what it ships beside the library: the layer's wrapper and default policy
  dotnet publish src/IronFunction.Cli/IronFunction.Cli.csproj -c Release -r "$rid" -o "$dist" -nologo -clp:NoSummary -v:q
  rm -f "$dist/iron-function.dbg"
  install -m 755 layer/wrapper "$dist/wrapper"
  install -m 644 layer/policy.json "$dist/policy.json"
  # the runtime clients invoke starts: the Python one copied, aws-lambda-ric linked where lambda_node installs it
  mkdir -p "$dist/runtime/python"
  install -m 644 runtime/python/bootstrap.py "$dist/runtime/python/bootstrap.py"
  ln -sfn "$PWD/runtime/node" "$dist/runtime/node"
  echo "built $dist/iron-function"
}

# ./build.sh test on x86_64 also cross-builds the arm64 library: its C-probe suites run under qemu-aarch64
# (ArchitectureTests); without the cross tools they skip, saying why.
publish_arm64_for_tests() {
  local dist
  dist="$(dist_of arm64)"
  [ "$HOST_ARCH" = x86_64 ] || return 0
  if cross_tools; then
    publish linux-arm64 "$dist"
  else
    rm -f "$dist/lib_iron_function.so" "$dist/lib_iron_function_log.so"
    echo "the arm64 suites will skip: no cross toolchain" >&2
  fi
}

# The suites marked [Trait("Architecture", "arm64")] again, on arm64: C probes built by the aarch64 gcc run under
# qemu-aarch64 with dist/linux-arm64/lib_iron_function.so (tests/IronFunction.Tests/EndToEnd/Qemu.cs). A --filter
# given to ./build.sh test narrows this pass too.
test_arm64() {
  local filter="Architecture=arm64" args=()
  while [ $# -gt 0 ]; do
    if [ "$1" = --filter ] && [ $# -gt 1 ]; then filter="($2)&Architecture=arm64"; shift 2; else args+=("$1"); shift; fi
  done
  echo "the arm64 suites, under qemu-aarch64"
  IRON_TEST_ARCH=arm64 dotnet test tests/IronFunction.Tests/IronFunction.Tests.csproj -c Release -nologo -v:q \
    --logger "console;verbosity=normal" --filter "$filter" "${args[@]}"
}

# The real AWS Node.js runtime interface client for iron-function invoke and the tests, installed once into
# runtime/node/node_modules from its lock file. Its native addon (libcurl + aws-lambda-cpp) is not in
# the npm package: npm installs without running any package's scripts, then runs aws-lambda-ric's own
# build alone (needs cmake, make, g++; takes a few minutes).
lambda_node() {
  local dir=runtime/node
  [ -f "$dir/node_modules/aws-lambda-ric/rapid-client.node" ] && return
  echo "installing aws-lambda-ric into $dir/node_modules (builds its native addon, once)"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  if ! (cd "$dir" && npm rebuild aws-lambda-ric --foreground-scripts > node_modules/.aws-lambda-ric-build.log 2>&1); then
    tail -30 "$dir/node_modules/.aws-lambda-ric-build.log" >&2
    echo "building aws-lambda-ric's native addon failed (log: $dir/node_modules/.aws-lambda-ric-build.log)" >&2
    exit 1
  fi
}

# Debian's ruby for the Ruby runtime of the local Lambda tests (tests/lambda/ruby); apt waits for other users' locks
lambda_ruby() {
  command -v ruby >/dev/null && return
  echo "installing Debian's ruby for the local Lambda tests"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq ruby >/dev/null ||
    { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq ruby >/dev/null; } ||
    { echo "installing ruby failed: the Ruby local Lambda tests need it (apt-get install ruby)" >&2; exit 1; }
}

case "${1:-build}" in
  build)
    publish
    lambda_node
    ;;
  test)
    if [ "$ARCH" != "$HOST_ARCH" ]; then
      # ./build.sh --arch arm64 test: the arm64 library and its suites under qemu only
      publish
      test_arm64 "${@:2}"
      exit
    fi
    publish
    publish_arm64_for_tests
    lambda_node
    lambda_ruby
    # the end-to-end tests run real programs under dist/lib_iron_function.so
    rc=0
    dotnet test tests/IronFunction.Tests/IronFunction.Tests.csproj -c Release -nologo -v:q \
      --logger "console;verbosity=normal" "${@:2}" || rc=$?
    if [ -f "$(dist_of arm64)/lib_iron_function.so" ] && [ "$HOST_ARCH" = x86_64 ]; then
      test_arm64 "${@:2}" || rc=$?
    fi
    exit $rc
    ;;
  bench)
    [ "$ARCH" = "$HOST_ARCH" ] || { echo "the benchmark runs on the host's architecture only" >&2; exit 2; }
    publish
    python3 bench/bench.py
    ;;
  layer)
    # ./build.sh layer [policy.json]: one Lambda layer zip per architecture, with the repository's monitor policy by
    # default; arm64 from an x86_64 machine where the cross tools can be had (not on Amazon Linux: its own platform only)
    publish "$(rid_of "$HOST_ARCH")" "$(dist_of "$HOST_ARCH")"
    tool="$(dist_of "$HOST_ARCH")/iron-function"
    "$tool" layer --policy "${2:-layer/policy.json}" --arch "$HOST_ARCH" -o "$PWD/dist/iron-function-layer-$HOST_ARCH.zip"
    if [ "$HOST_ARCH" = x86_64 ] && cross_tools; then
      publish linux-arm64 "$(dist_of arm64)"
      "$tool" layer --policy "${2:-layer/policy.json}" --arch arm64 -o "$PWD/dist/iron-function-layer-arm64.zip"
    fi
    ;;
  demo)
    # the sample function under a block policy (demo/): built first unless dist/ is newer than every source
    if [ ! -x "$DIST/iron-function" ] || [ ! -f "$DIST/lib_iron_function.so" ] ||
       [ -n "$(find src runtime layer \( -name bin -o -name obj -o -name node_modules \) -prune -o -newer "$DIST/iron-function" -print -quit)" ]; then
      publish
    fi
    python3 demo/demo.py "$DIST/iron-function"
    ;;
  *)
    echo "usage: ./build.sh [--arch x86_64|arm64] [build|test|bench|layer [policy.json]|demo]" >&2
    exit 2
    ;;
esac
