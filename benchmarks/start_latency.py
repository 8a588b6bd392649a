#!/usr/bin/python3
"""Start-latency driver for benchmarks/run (Debian's python3, standard library only).

  start_latency.py oci-config BUNDLE          write BUNDLE/config.json (same container as gctool's)
  start_latency.py measure PLAN.json OUT.json  run the plan, write the samples and statistics

Every sample is one whole process: spawned, waited for with wait4, wall time from spawn to reap,
CPU time (user + sys) from the rusage of the process and of every descendant it reaped. The
runtimes are interleaved: each round runs each of them once, in an order that rotates from round
to round, so a noisy neighbour hits all of them alike. Concurrency rounds start N copies of one
command at once and measure until the last one is reaped.

Samples are GAP_MS apart (plan "gap_ms", default 100): a cgroup v1 move (a write to cgroup.procs)
waits for an RCU grace period unless another move happened within about one grace period before,
so without a pause a runtime that follows another one's moves skips its own 10-16 ms wait (crun
followed gctool in 4 rounds of 5 and measured 22 ms against 37 ms after a pause).
"""
import json
import math
import os
import re
import statistics
import sys
import time

# Docker's default capabilities, which gctool gives a container too.
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

# gctool's default seccomp profile for a container without extra capabilities, as OCI JSON: crun
# and runc load a filter of the same kind and size. The allow-list is read from its one table
# (src/gctool/sys/seccomp_default.cpp, x86-64 part); the filtered calls are written out here.
SECCOMP_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "gctool",
                             "sys", "seccomp_default.cpp")


def allowed_syscalls():
    with open(SECCOMP_TABLE) as f:
        text = f.read()
    table = text[text.index("kAllowed[] = {"):]
    table = table[:table.index("\n};")]
    table = re.sub(r"#elif.*?#endif", "", table, flags=re.S)  # other architectures
    return re.findall(r'"([a-z0-9_]+)"', table)


def seccomp_profile():
    def allow(name, value, op):
        return {"names": [name], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": value, "op": op}]}
    clone_namespaces = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": allowed_syscalls(), "action": "SCMP_ACT_ALLOW"},
                     allow("socket", 38, "SCMP_CMP_LT"), allow("socket", 39, "SCMP_CMP_EQ"),
                     allow("socket", 40, "SCMP_CMP_GT")] +
                    [allow("personality", v, "SCMP_CMP_EQ")
                     for v in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF)] +
                    [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": clone_namespaces, "valueTwo": 0,
                                "op": "SCMP_CMP_MASKED_EQ"}]},
                     {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
    }

MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def oci_config(bundle):
    """The container gctool runs for `run --rm --network none -m 64m busybox /bin/true`."""
    for name, text in (("hostname", "bench\n"),
                       ("hosts", "127.0.0.1\tlocalhost\n127.0.0.1\tbench\n"),
                       ("resolv.conf", "nameserver 127.0.0.1\n")):
        with open(os.path.join(bundle, name), "w") as f:
            f.write(text)
    etc_binds = [{"destination": "/etc/" + name, "type": "bind",
                  "source": os.path.join(bundle, name), "options": ["rbind", "rprivate"]}
                 for name in ("hostname", "hosts", "resolv.conf")]
    caps = list(DEFAULT_CAPS)
    config = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/true"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOSTNAME=bench", "HOME=/root"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ] + etc_binds,
        "linux": {
            "resources": {"memory": {"limit": 64 * 1024 * 1024}},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")] +
                          ([{"type": "cgroup"}] if os.path.exists("/proc/self/ns/cgroup") else []),
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
            "seccomp": seccomp_profile(),
        },
    }
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


class Failure(Exception):
    pass


def spawn(argv, counter, log):
    argv = [a.replace("{n}", str(counter)) for a in argv]
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        return os.posix_spawnp(argv[0], argv, os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                            (os.POSIX_SPAWN_DUP2, devnull, 1),
                                            (os.POSIX_SPAWN_DUP2, log, 2)])
    finally:
        os.close(devnull)


def reap(pid, name, log_path):
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        with open(log_path, errors="replace") as f:
            tail = f.read()[-2000:]
        raise Failure(f"{name} exited with {code}:\n{tail}")
    return (usage.ru_utime + usage.ru_stime) * 1000.0


def run_batch(argv, copies, counter, name, log_path):
    """Starts copies of argv at once; returns (wall ms until the last is reaped, total CPU ms)."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        start = time.perf_counter_ns()
        pids = [spawn(argv, counter + i, log) for i in range(copies)]
        cpu = sum(reap(pid, name, log_path) for pid in pids)
        wall = (time.perf_counter_ns() - start) / 1e6
    finally:
        os.close(log)
    return wall, cpu


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


def summary(samples):
    return {"median": statistics.median(samples), "p90": percentile(samples, 90),
            "mean": statistics.fmean(samples), "min": min(samples), "max": max(samples)}


def measure(plan_path, out_path):
    with open(plan_path) as f:
        plan = json.load(f)
    log_path = plan["log"]
    results = {"runs": plan["runs"], "warmup": plan["warmup"], "series": []}
    counter = 0
    for group in plan["groups"]:
        commands = group["commands"]
        copies = group.get("copies", 1)
        samples = {c["name"]: {"wall": [], "cpu": []} for c in commands}
        for round_no in range(plan["warmup"] + group.get("runs", plan["runs"])):
            shift = round_no % len(commands)
            for command in commands[shift:] + commands[:shift]:
                time.sleep(plan.get("gap_ms", 100) / 1000.0)
                wall, cpu = run_batch(command["argv"], copies, counter, command["name"], log_path)
                counter += copies
                if round_no >= plan["warmup"]:
                    samples[command["name"]]["wall"].append(wall)
                    samples[command["name"]]["cpu"].append(cpu)
        for command in commands:
            s = samples[command["name"]]
            results["series"].append({
                "group": group["name"], "name": command["name"], "copies": copies,
                "command": " ".join(command["argv"]),
                "wall_ms": summary(s["wall"]), "cpu_ms": summary(s["cpu"]),
                "samples": {"wall_ms": [round(x, 3) for x in s["wall"]],
                            "cpu_ms": [round(x, 3) for x in s["cpu"]]},
            })
        print(f"start_latency: {group['name']} done", file=sys.stderr)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "oci-config":
        oci_config(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "measure":
        try:
            measure(sys.argv[2], sys.argv[3])
        except Failure as e:
            print(f"start_latency: {e}", file=sys.stderr)
            sys.exit(1)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
