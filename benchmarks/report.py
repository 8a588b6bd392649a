#!/usr/bin/python3
"""Assembles benchmarks/results/latest.json and latest.md from one benchmarks/run, prints the md.

Inputs in --out-dir: start.json (start_latency.py), hyperfine.json, bench_*.json (Google
Benchmark), script-NAME.md (markdown printed by benchmarks/NAME, optional). Figures other helpers keep by hand in
--results/ipam.md and --results/logs_memory.md are included as they are.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re

# The targets for the start latency.
TARGET_VS_CRUN = 1.0
TARGET_VS_FLOOR = 1.5


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    os_name = "unknown"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    cgroup = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else (
        "v1 hybrid" if os.path.isdir("/sys/fs/cgroup/unified") else "v1")
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem_kb / 1048576, 1),
            "kernel": platform.release(), "os": os_name, "cgroup": cgroup,
            "loadavg_at_end": os.getloadavg()[0]}


def ms(x):
    return f"{x:.2f}"


def ratio(a, b):
    return a / b if b else float("nan")


def start_tables(start):
    by = {(s["group"], s["name"]): s for s in start["series"]}
    seq = [s for s in start["series"] if s["group"] == "sequential"]
    lines = [f"### Start latency: one container at a time ({start['runs']} interleaved rounds "
             f"after {start['warmup']} warm-up rounds)", "",
             "| runtime | wall median ms | wall p90 ms | CPU median ms | CPU p90 ms |",
             "|---|---:|---:|---:|---:|"]
    for s in seq:
        lines.append(f"| {s['name']} | {ms(s['wall_ms']['median'])} | {ms(s['wall_ms']['p90'])} | "
                     f"{ms(s['cpu_ms']['median'])} | {ms(s['cpu_ms']['p90'])} |")
    g = by[("sequential", "gctool")]
    ratios = {}
    for peer in ("crun", "runc", "floor-cgroup", "floor"):
        if ("sequential", peer) in by:
            p = by[("sequential", peer)]
            ratios[f"gctool/{peer}"] = {
                "wall": ratio(g["wall_ms"]["median"], p["wall_ms"]["median"]),
                "cpu": ratio(g["cpu_ms"]["median"], p["cpu_ms"]["median"])}
    # The OCI runtime against its peer on the same bundle (issue 16: at most crun's median).
    if ("sequential", "gctool-oci") in by and ("sequential", "crun") in by:
        o, c = by[("sequential", "gctool-oci")], by[("sequential", "crun")]
        ratios["gctool-oci/crun"] = {
            "wall": ratio(o["wall_ms"]["median"], c["wall_ms"]["median"]),
            "cpu": ratio(o["cpu_ms"]["median"], c["cpu_ms"]["median"])}
    wrapper = by.get(("sequential", "wrapper"))
    lines += ["", "Ratios of medians (every runtime inside the same `unshare` wrapper):", "",
              "| ratio | wall | CPU | wall without the wrapper's own time |", "|---|---:|---:|---:|"]
    for name, r in ratios.items():
        peer = by[("sequential", name.split("/")[1])]
        net = "n/a"
        if wrapper:
            w = wrapper["wall_ms"]["median"]
            net = f"{ratio(g['wall_ms']['median'] - w, peer['wall_ms']['median'] - w):.2f}"
        lines.append(f"| {name} | {r['wall']:.2f} | {r['cpu']:.2f} | {net} |")

    conc = [s for s in start["series"] if s["group"] != "sequential"]
    if conc:
        copies = conc[0]["copies"]
        lines += ["", f"### Start latency: {copies} starts at once "
                  f"({len(conc[0]['samples']['wall_ms'])} interleaved rounds)", "",
                  f"| runtime | batch wall median ms | batch wall p90 ms | wall per start ms | "
                  f"CPU of the batch median ms |", "|---|---:|---:|---:|---:|"]
        for s in conc:
            lines.append(f"| {s['name']} | {ms(s['wall_ms']['median'])} | "
                         f"{ms(s['wall_ms']['p90'])} | {ms(s['wall_ms']['median'] / copies)} | "
                         f"{ms(s['cpu_ms']['median'])} |")
        cg = [s for s in conc if s["name"] == "gctool"]
        cc = [s for s in conc if s["name"] == "crun"]
        if cg and cc:
            r = ratio(cg[0]["wall_ms"]["median"], cc[0]["wall_ms"]["median"])
            ratios[f"gctool/crun x{copies}"] = {
                "wall": r, "cpu": ratio(cg[0]["cpu_ms"]["median"], cc[0]["cpu_ms"]["median"])}
            lines += ["", f"gctool/crun at {copies} at once: wall {r:.2f}, CPU "
                      f"{ratios[f'gctool/crun x{copies}']['cpu']:.2f}."]
    targets = {
        "gctool/crun wall <= 1.0": ratios.get("gctool/crun", {}).get("wall", 99) <= TARGET_VS_CRUN,
        "gctool/floor wall <= 1.5":
            ratios.get("gctool/floor", {}).get("wall", 99) <= TARGET_VS_FLOOR,
    }
    lines += ["", "Targets: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}"
                                          for k, v in targets.items()) + "."]
    return lines, ratios, targets


def summary_table(start, ratios, micro, scripts, when, info):
    """The short table README shows: the headline figures of this run."""
    by = {(s["group"], s["name"]): s for s in start["series"]}
    names = [n for n in ("gctool", "crun", "runc", "floor-cgroup", "floor")
             if ("sequential", n) in by]
    head = "| start of `/bin/true` | " + " | ".join(names) + " |"
    lines = [f"Run of {when} on {info['cpu']} ({info['cpus']} CPUs), kernel {info['kernel']}, "
             f"cgroup {info['cgroup']}, load average {info['loadavg_at_end']:.1f}:", "",
             head, "|---|" + "---:|" * len(names)]

    def row(label, cell):
        return f"| {label} | " + " | ".join(cell(n) for n in names) + " |"

    lines.append(row("wall median (p90), ms", lambda n: f"{by[('sequential', n)]['wall_ms']['median']:.1f} "
                     f"({by[('sequential', n)]['wall_ms']['p90']:.1f})"))
    lines.append(row("CPU median, ms", lambda n: f"{by[('sequential', n)]['cpu_ms']['median']:.1f}"))
    conc = {s["name"]: s for s in start["series"] if s["group"] != "sequential"}
    if conc:
        copies = next(iter(conc.values()))["copies"]
        lines.append(row(f"{copies} at once, wall median ms",
                         lambda n: f"{conc[n]['wall_ms']['median']:.1f}" if n in conc else "-"))
    lines.append(row("gctool / this, wall median",
                     lambda n: "-" if n == "gctool" else f"{ratios[f'gctool/{n}']['wall']:.2f}"))
    lines.append(row("gctool / this, CPU median",
                     lambda n: "-" if n == "gctool" else f"{ratios[f'gctool/{n}']['cpu']:.2f}"))
    lines += ["", "The project's performance targets, from this run:", "",
              *targets_table(ratios, micro, scripts)[0]]
    return lines


def to_ns(value, unit):
    return value * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]


def ipam_figures(micro):
    """CPU ns per op of the bench_ipam cases the targets name, keyed by name without suffixes."""
    rows = (micro or {}).get("bench_ipam", {}).get("benchmarks", [])
    return {re.sub(r"/(iterations|min_time|repeats):[^/]+", "", r["name"]):
            to_ns(r["cpu_time"], r["unit"]) for r in rows}


def markdown_rows(text):
    """The cells of every table row of a markdown text (header and rule rows included)."""
    rows = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|"):
            rows.append([c.strip() for c in line[1:-1].split("|")])
    return rows


def number(cell):
    m = re.search(r"-?[0-9]+(\.[0-9]+)?", cell or "")
    return float(m.group(0)) if m else None


def targets_table(ratios, micro, scripts):
    """Every target of issues 9 and 21 with this run's figure: (lines, {target: met or None})."""
    rows = []

    def add(area, target, figure, met):
        rows.append((area, target, figure, met))

    for peer, limit in (("crun", TARGET_VS_CRUN), ("floor", TARGET_VS_FLOOR)):
        r = ratios.get(f"gctool/{peer}")
        add("start", f"gctool/{peer} median wall <= {limit}",
            f"{r['wall']:.2f}" if r else "-", (r["wall"] <= limit) if r else None)

    # Issue 21's start targets: ahead of crun at every concurrency.
    for key, what, limit in (("gctool/crun", "wall", 0.8), ("gctool/crun x8", "wall", 0.8),
                             ("gctool/crun", "cpu", 1.0), ("gctool/floor-cgroup", "wall", 1.3)):
        r = ratios.get(key)
        label = key + (" (8 at once)" if key.endswith("x8") else "")
        add("start", f"{label} median {what} <= {limit} (issue 21)",
            f"{r[what]:.2f}" if r else "-", (r[what] <= limit) if r else None)

    r = ratios.get("gctool-oci/crun")
    add("start", "gctool-oci/crun median wall <= 1.0 (issue 16)",
        f"{r['wall']:.2f}" if r else "-", (r["wall"] <= 1.0) if r else None)

    ipam = ipam_figures(micro)

    def ipam_ns(name):
        return ipam.get(name)

    mem = ipam_ns("memory/alloc_only/16/99%")
    add("IPAM", "in memory, /16 at 99%: allocate < 100 ns",
        f"{mem:.0f} ns CPU" if mem else "-", (mem < 100) if mem else None)
    # The targets speak of "an allocation" (alloc_only); an allocation plus its release
    # (alloc_release) is shown next to it as context, judged by the same numbers.
    for mode, what in (("alloc_only", "an allocation"),
                       ("alloc_release", "context: allocation + release")):
        full = ipam_ns(f"store/{mode}/16/10000_allocated")
        empty = ipam_ns(f"store/{mode}/16/empty")
        go = ipam_ns(f"go/{mode}/16/10000_allocated")
        add("IPAM", f"persisted, {what}, /16 with 10,000: < 1 ms",
            f"{full / 1e3:.0f} us CPU" if full else "-", (full < 1e6) if full else None)
        add("IPAM", f"persisted, {what}: <= 2x the empty /16",
            f"{full / empty:.2f}x" if full and empty else "-",
            (full <= 2 * empty) if full and empty else None)
        add("IPAM", f"persisted, {what}: >= 100x faster than the Go algorithm",
            f"{go / full:.0f}x ({go / 1e6:.2f} ms / {full / 1e3:.0f} us)" if full and go else "-",
            (go / full >= 100) if full and go else None)

    logs = {r[0]: r for r in markdown_rows(scripts.get("log-throughput")) if "lines" in r[0]}
    for label, share, cpu_max in (("80-byte lines", 70, 2.55), ("16 KiB lines", 85, 1.05)):
        r = next((v for k, v in logs.items() if k.startswith(label)), None)
        pct = number(r[3]) if r else None
        cpu = number(r[5]) if r else None
        add("logs", f"{label}: >= {share}% of the cat ceiling",
            f"{pct:.0f}% ({r[1]} of {r[2]} MB/s)" if pct is not None else "-",
            (pct >= share) if pct is not None else None)
        add("logs", f"{label}: supervisor CPU <= {cpu_max} s/GiB (half of conmon's reference figure)",
            f"{cpu:.2f} s/GiB" if cpu is not None else "-",
            (cpu <= cpu_max) if cpu is not None else None)
        conmon = number(r[9]) if r and len(r) > 9 else None
        add("logs", f"{label}: supervisor CPU <= half of conmon's in this run",
            f"{cpu:.2f} / {conmon:.2f} s/GiB = {cpu / conmon:.0%}" if cpu and conmon else "-",
            (cpu <= conmon / 2) if cpu and conmon else None)

    memory = [r for r in markdown_rows(scripts.get("memory")) if r and r[0].isdigit()]
    pss = number(memory[0][2]) if memory else None
    add("memory", "supervisor PSS <= 0.41 MiB (conmon's)",
        f"{pss:.0f} kB mean over {memory[0][0]} containers" if pss is not None else "-",
        (pss <= 0.41 * 1024) if pss is not None else None)

    # Targets the scripts judged themselves: "<!-- target: area | target | figure | yes/no -->".
    for name, text in scripts.items():
        for m in re.finditer(r"<!-- target: (.*?) \| (.*?) \| (.*?) \| (yes|no|-) -->", text or ""):
            add(m.group(1), m.group(2), m.group(3), None if m.group(4) == "-" else m.group(4) == "yes")

    lines = ["| area | target | this run | met |", "|---|---|---|---|"]
    for area, target, figure, met in rows:
        verdict = ("not measured" if figure == "-" else "no target (a figure to watch)") \
            if met is None else ("yes" if met else "**no**")
        lines.append(f"| {area} | {target} | {figure} | {verdict} |")
    return lines, {f"{area}: {target}": met for area, target, _, met in rows}


def hyperfine_table(hf):
    lines = ["### Cross-check with hyperfine (each command on its own, not interleaved)", "",
             "| command | mean ms | ± sd ms | median ms | runs |", "|---|---:|---:|---:|---:|"]
    for r in hf["results"]:
        lines.append(f"| {r['command']} | "
                     f"{ms(r['mean'] * 1000)} | {ms((r['stddev'] or 0) * 1000)} | "
                     f"{ms(r['median'] * 1000)} | {len(r['times'])} |")
    return lines


def fmt_time(value, unit):
    return f"{value:.3g} {unit}"


def micro_tables(out_dir):
    lines = []
    results = {}
    for path in sorted(glob.glob(os.path.join(out_dir, "bench_*.json"))):
        name = os.path.basename(path)[:-5]
        with open(path) as f:
            data = json.load(f)
        rows = []
        lines += [f"### {name} (Google Benchmark)", "",
                  "| benchmark | real time | CPU time | counters |", "|---|---:|---:|---|"]
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate":
                continue
            known = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
                     "repetitions", "repetition_index", "threads", "iterations", "real_time",
                     "cpu_time", "time_unit", "aggregate_name", "aggregate_unit", "label"}
            counters = {k: v for k, v in b.items() if k not in known}
            shown = []
            for k, v in counters.items():
                if k == "bytes_per_second":
                    shown.append(f"{v / 1e6:.0f} MB/s")
                elif k == "items_per_second":
                    shown.append(f"{v:.3g} items/s")
                elif isinstance(v, (int, float)):
                    shown.append(f"{k}={v:.4g}")
            unit = b.get("time_unit", "ns")
            lines.append(f"| {b['name']} | {fmt_time(b['real_time'], unit)} | "
                         f"{fmt_time(b['cpu_time'], unit)} | {', '.join(shown)} |")
            rows.append({"name": b["name"], "real_time": b["real_time"],
                         "cpu_time": b["cpu_time"], "unit": unit, "counters": counters})
        lines.append("")
        results[name] = {"context": data.get("context", {}), "benchmarks": rows}
    return lines, results


def included(results_dir, file_name, title):
    path = os.path.join(results_dir, file_name)
    if not os.path.exists(path):
        return [], None
    with open(path) as f:
        text = f.read().strip()
    # Their headings go one level below ours.
    text = re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", text, flags=re.M)
    return [f"### {title} (from benchmarks/results/{file_name}, as committed)", "", text, ""], path


BEGIN = "<!-- benchmarks/run: summary begin -->"
END = "<!-- benchmarks/run: summary end -->"


def update_readme(path, lines):
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        return
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--quick", default="0")
    ap.add_argument("--name", default="latest", help="results/NAME.json and NAME.md")
    ap.add_argument("--versions", default="{}")
    ap.add_argument("--git", default="unknown")
    ap.add_argument("--readme", help="README.md whose marked table to replace with this run's")
    a = ap.parse_args()

    with open(os.path.join(a.out_dir, "start.json")) as f:
        start = json.load(f)
    hf = None
    if os.path.exists(os.path.join(a.out_dir, "hyperfine.json")):
        with open(os.path.join(a.out_dir, "hyperfine.json")) as f:
            hf = json.load(f)
    # Markdown that other benchmark scripts printed (benchmarks/run saves it as script-NAME.md).
    scripts = {}
    for path in sorted(glob.glob(os.path.join(a.out_dir, "script-*.md"))):
        with open(path) as f:
            scripts[os.path.basename(path)[len("script-"):-3]] = f.read().strip()

    info = machine()
    versions = json.loads(a.versions)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    quick = a.quick == "1"

    start_lines, ratios, targets = start_tables(start)
    micro_lines, micro = micro_tables(a.out_dir)
    md = ["# gctool benchmarks: latest run", "",
          f"{when}, gctool {a.git}{', QUICK smoke run: not for comparison' if quick else ''}. "
          "Reproduce with `benchmarks/run` (as root).", "",
          f"Machine: {info['cpu']}, {info['cpus']} CPUs, {info['memory_gib']} GiB, "
          f"{info['os']}, kernel {info['kernel']}, cgroup {info['cgroup']}, "
          f"load average {info['loadavg_at_end']:.2f} at the end.", "",
          "Versions: " + ", ".join(f"{k} `{v}`" for k, v in versions.items()) + ".", "",
          "## Summary", "", *summary_table(start, ratios, micro, scripts, when, info), "",
          "## Start latency", "",
          "Same busybox rootfs, namespaces mount, pid, uts, ipc, net (loopback only) and cgroup, "
          "a 64 MiB memory limit, the same capabilities, masked paths and seccomp deny list, "
          "`/bin/true`. Each sample is a whole process from spawn to reap; CPU is user + sys of "
          "the process and everything it reaped (rusage).", "",
          *start_lines, ""]
    if hf:
        md += hyperfine_table(hf) + [""]
    md += ["Commands (each inside `unshare -m --propagation private sh -c 'umount "
           "/sys/fs/cgroup/unified; exec \"$@\"' sh`, which crun needs on this hybrid-cgroup host):",
           ""]
    for s in start["series"]:
        if s["group"] == "sequential":
            cmd = re.sub(r"/var/tmp/gctool-bench\.\w+", "$WORK", s["command"])
            marker = 'exec "$@" sh '
            cmd = cmd.split(marker, 1)[1] if marker in cmd else cmd
            md.append(f"- {s['name']}: `{cmd}`")
    md += ["", "The floor (`benchmarks/floor.cpp`) does only the overlay mount, clone3 with the "
           "same namespaces, private propagation, pivot_root, a /proc mount, exec, wait and "
           "removal of the upper and work dirs; `floor-cgroup` also runs the container in a "
           "cgroup of its own with the same 64 MiB memory limit as gctool's (joined while the "
           "child mounts its root, removed after the wait), the like-for-like floor of issue 21. "
           "`wrapper` is the `unshare` wrapper around `/bin/true` alone.", ""]
    if micro_lines:
        md += ["## Micro-benchmarks (run now)", ""] + micro_lines
    for name, text in scripts.items():
        text = re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", text,
                      flags=re.M)
        md += [f"## benchmarks/{name} (run now)", "", text, ""]
    sections = []
    for file_name, title in (("ipam.md", "IPAM"), ("logs_memory.md", "Logs and memory")):
        lines, path = included(a.results, file_name, title)
        if lines:
            sections.append(path)
            md += lines

    out = {"when": when, "git": a.git, "quick": quick, "machine": info, "versions": versions,
           "start_latency": start, "ratios": ratios,
           "targets": targets_table(ratios, micro, scripts)[1],
           "hyperfine": hf, "micro_benchmarks": micro, "scripts": scripts,
           "included": sections}
    os.makedirs(a.results, exist_ok=True)
    with open(os.path.join(a.results, a.name + ".json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(a.results, a.name + ".md"), "w") as f:
        f.write("\n".join(md) + "\n")
    if a.readme:
        update_readme(a.readme, summary_table(start, ratios, micro, scripts, when, info))
    print("\n".join(md))


if __name__ == "__main__":
    main()
