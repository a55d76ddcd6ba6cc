#!/usr/bin/env bash
# Packs a Lambda layer: layer/package.sh <lib_iron_function.so> <policy.json> <out.zip>
# The zip holds iron-function/{lib_iron_function.so,wrapper,policy.json}; Lambda extracts layers
# to /opt. The policy is checked by the library itself first: a policy it would refuse (and so
# run the function fail-closed) stops the packing with the library's own line.
set -euo pipefail
lib=$1 policy=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$lib" ] || { echo "no library at $lib" >&2; exit 1; }
[ -f "$policy" ] || { echo "no policy at $policy" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed to write the zip" >&2; exit 1; }

check=$(LD_PRELOAD="$lib" IRON_FUNCTION_POLICY="$policy" IRON_LOG=error /bin/true 2>&1 >/dev/null || true)
if [ -n "$check" ]; then
  echo "$check" >&2
  echo "the policy $policy is refused by the library; the layer was not written" >&2
  exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/iron-function"
cp "$lib" "$stage/iron-function/lib_iron_function.so"
cp "$here/wrapper" "$stage/iron-function/wrapper"
cp "$policy" "$stage/iron-function/policy.json"
chmod 755 "$stage/iron-function/wrapper"
chmod 644 "$stage/iron-function/lib_iron_function.so" "$stage/iron-function/policy.json"
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
rm -f "$out"
# zipfile records each file's mode, so the wrapper stays executable in /opt
(cd "$stage" && python3 -m zipfile -c "$out" iron-function)
echo "wrote $out (AWS_LAMBDA_EXEC_WRAPPER=/opt/iron-function/wrapper)"
