#!/bin/sh
# ctest examples/run_container (root): in a temporary data root with the busybox image,
# example_run_container runs a command whose output passes through and whose exit code becomes
# the program's; afterwards no container, mount or cgroup of that root is left.
#   run_container.sh EXAMPLE GCTOOL SOURCE_DIR TMP_PARENT
set -eu
example=$1 gctool=$2 source_dir=$3
mkdir -p "$4"
root=$(mktemp -d "$4/run-container.XXXXXX")
trap 'rm -rf "$root"' EXIT

"$source_dir/tools/make-busybox-image" "$root/busybox.tar"
"$gctool" --root "$root" image import "$root/busybox.tar" busybox >/dev/null

set +e
out=$("$example" --root "$root" busybox sh -c 'echo hello from busybox; exit 7')
code=$?
set -e
echo "output: $out, exit code: $code"
[ "$out" = "hello from busybox" ] || { echo "FAIL: unexpected output"; exit 1; }
[ "$code" = 7 ] || { echo "FAIL: exit code $code, expected 7"; exit 1; }

# A command that does not exist: Docker's 127.
set +e
"$example" --root "$root" busybox /no/such/command
code=$?
set -e
[ "$code" = 127 ] || { echo "FAIL: exit code $code for a missing command, expected 127"; exit 1; }

left=$("$gctool" --root "$root" ps -aq)
[ -z "$left" ] || { echo "FAIL: containers left: $left"; exit 1; }
if grep -qF "$root" /proc/self/mountinfo; then
  echo "FAIL: mounts left under $root"
  exit 1
fi
echo PASS
