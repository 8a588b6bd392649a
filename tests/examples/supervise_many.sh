#!/bin/sh
# ctest examples/supervise_many (root): in a temporary data root with the busybox image,
# example_supervise_many runs three containers at once on one loop; every line each one writes to
# stdout and stderr appears with its name as prefix, each exit code comes back, and afterwards no
# container, mount or cgroup of theirs is left.
#   supervise_many.sh EXAMPLE GCTOOL SOURCE_DIR TMP_PARENT
set -eu
example=$1 gctool=$2 source_dir=$3
mkdir -p "$4"
root=$(mktemp -d "$4/supervise-many.XXXXXX")
trap 'rm -rf "$root"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

"$source_dir/tools/make-busybox-image" "$root/busybox.tar"
"$gctool" --root "$root" image import "$root/busybox.tar" busybox >/dev/null

# Each container sleeps between its lines, so that all three run at the same time.
"$example" --root "$root" busybox 3 sh -c \
  'echo "hello from $REPLICA"; sleep 1; echo "warning from $REPLICA" >&2;
   printf "no newline from $REPLICA"; exit $((REPLICA + 3))' >"$root/out" ||
  fail "example_supervise_many exited with $?"
cat "$root/out"

for i in 0 1 2; do
  for line in "replica-$i | hello from $i" "replica-$i | warning from $i" \
    "replica-$i | no newline from $i" "replica-$i exited with code $((i + 3))"; do
    grep -qxF "$line" "$root/out" || fail "no line \"$line\""
  done
done
# Concurrent, not one after the other: every container started before the first exited.
last_start=$(grep -n ' | started, id ' "$root/out" | tail -n 1 | cut -d: -f1)
first_exit=$(grep -n ' exited with code ' "$root/out" | head -n 1 | cut -d: -f1)
[ "$(grep -c ' | started, id ' "$root/out")" = 3 ] || fail "not three containers started"
[ "$last_start" -lt "$first_exit" ] || fail "a container exited before the last one started"

left=$("$gctool" --root "$root" ps -aq)
[ -z "$left" ] || fail "containers left: $left"
if grep -qF "$root" /proc/self/mountinfo; then
  fail "mounts left under $root"
fi
for id in $(sed -n 's/.* | started, id //p' "$root/out"); do
  cgroups=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id*" 2>/dev/null)
  [ -z "$cgroups" ] || fail "cgroups left: $cgroups"
done
echo PASS
