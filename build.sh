#!/usr/bin/env bash
# Iron Function build entry point: ./build.sh [build|test|bench|layer [policy.json]|demo]
set -euo pipefail
cd "$(dirname "$0")"

RID=linux-x64
DIST="$PWD/dist"

publish() {
  dotnet publish src/IronFunction/IronFunction.csproj -c Release -r "$RID" -o "$DIST" -nologo -clp:NoSummary -v:q
  rm -f "$DIST/lib_iron_function.so.dbg"
  echo "built $DIST/lib_iron_function.so"
  # the tool, with what it ships beside the library: the layer's wrapper and default policy
  dotnet publish src/IronFunction.Cli/IronFunction.Cli.csproj -c Release -r "$RID" -o "$DIST" -nologo -clp:NoSummary -v:q
  rm -f "$DIST/iron-function.dbg"
  install -m 755 layer/wrapper "$DIST/wrapper"
  install -m 644 layer/policy.json "$DIST/policy.json"
  # the runtime clients invoke starts: the Python one copied, aws-lambda-ric linked where lambda_node installs it
  mkdir -p "$DIST/runtime/python"
  install -m 644 runtime/python/bootstrap.py "$DIST/runtime/python/bootstrap.py"
  ln -sfn "$PWD/runtime/node" "$DIST/runtime/node"
  echo "built $DIST/iron-function"
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
    publish
    lambda_node
    lambda_ruby
    # the end-to-end tests run real programs under dist/lib_iron_function.so
    dotnet test tests/IronFunction.Tests/IronFunction.Tests.csproj -c Release -nologo -v:q \
      --logger "console;verbosity=normal" "${@:2}"
    ;;
  bench)
    publish
    python3 bench/bench.py
    ;;
  layer)
    # ./build.sh layer [policy.json]: the Lambda layer zip, with the repository's monitor policy by default
    publish
    "$DIST/iron-function" layer --policy "${2:-layer/policy.json}" -o "$DIST/iron-function-layer.zip"
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
    echo "usage: ./build.sh [build|test|bench|layer [policy.json]|demo]" >&2
    exit 2
    ;;
esac
