#!/usr/bin/env bash
# Iron Function build entry point: ./build.sh [build|test|bench|demo|layer]
set -euo pipefail
cd "$(dirname "$0")"

RID=linux-x64
DIST="$PWD/dist"

publish() {
  dotnet publish src/IronFunction/IronFunction.csproj -c Release -r "$RID" -o "$DIST" -nologo -clp:NoSummary -v:q
  rm -f "$DIST/lib_iron_function.so.dbg"
  echo "built $DIST/lib_iron_function.so"
}

case "${1:-build}" in
  build)
    publish
    ;;
  test)
    publish
    # the end-to-end tests run real programs under dist/lib_iron_function.so
    dotnet test tests/IronFunction.Tests/IronFunction.Tests.csproj -c Release -nologo -v:q \
      --logger "console;verbosity=normal" "${@:2}"
    ;;
  bench)
    publish
    python3 bench/bench.py
    ;;
  demo|layer)
    echo "'$1' is not there yet" >&2
    exit 2
    ;;
  *)
    echo "usage: ./build.sh [build|test|bench|demo|layer]" >&2
    exit 2
    ;;
esac
