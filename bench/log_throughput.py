#!/usr/bin/env python3
"""s6-log throughput and memory, ours against Debian's /usr/bin/s6-log, in one run.

Lines of 100 bytes (99 + newline) are pushed from a pipe into one logdir with
`t n10 s1000000 DIR`, with and without a `+regex` selection (which selects every line, so
both write the same volume).  For each side and script: lines per second (wall clock from
start to exit at EOF) and CPU seconds per MB of input (user + system, from wait4).  Then the
private memory (USS: Private_Clean + Private_Dirty of /proc/PID/smaps_rollup) of an idle
s6-log with one logdir.  Medians of --reps runs, sides alternated.  Standard library only.

    bench/log_throughput.py [--ours DIR] [--s6 DIR] [--lines N] [--reps N]

--ours defaults to target/release (build it with `cargo build --release` first).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SCRIPTS = {
    "plain": ["t", "n10", "s1000000"],
    "+regex": ["+^line [0-9]+ [a-z]+$", "t", "n10", "s1000000"],
}


def make_input(n):
    body = "x" * 87
    lines = [("line %06d " % (i % 1000000)).encode() for i in range(1000)]
    # 12 + 87 = 99 bytes + newline = 100
    block = b"".join(l + body.encode() + b"\n" for l in lines)
    assert len(block) == 100 * 1000
    reps, rest = divmod(n, 1000)
    return block * reps + block[: rest * 100]


def run_once(prog, script, data, scratch):
    ld = os.path.join(scratch, "ld")
    shutil.rmtree(ld, ignore_errors=True)
    r, w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.dup2(r, 0)
        os.close(r)
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.execv(prog, [prog, *script, ld])
    os.close(r)
    view = memoryview(data)
    while view:
        n = os.write(w, view[: 1 << 20])
        view = view[n:]
    os.close(w)
    _, status, ru = os.wait4(pid, 0)
    elapsed = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{prog} exited {status}")
    total = sum(os.path.getsize(os.path.join(ld, f)) for f in os.listdir(ld)
                if f.startswith("@") or f == "current")
    expect_min = len(data) // 100 * 126 * 0.5  # n10 keeps only the newest archives
    if total < min(expect_min, 10 * 1000000 * 0.9):
        raise RuntimeError(f"{prog}: only {total} bytes logged")
    return elapsed, ru.ru_utime + ru.ru_stime


def idle_uss(prog, scratch):
    ld = os.path.join(scratch, "idle")
    shutil.rmtree(ld, ignore_errors=True)
    r, w = os.pipe()
    p = subprocess.Popen([prog, "t", "n10", "s1000000", ld], stdin=r,
                         stdout=subprocess.DEVNULL)
    os.close(r)
    try:
        os.write(w, b"one line\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.path.getsize(os.path.join(ld, "current")) > 0:
                    break
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        uss = dirty = 0
        with open(f"/proc/{p.pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    uss += int(line.split()[1])
                if line.startswith("Private_Dirty:"):
                    dirty += int(line.split()[1])
        return uss, dirty
    finally:
        os.close(w)
        p.wait(10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", default=os.path.join(ROOT, "target", "release"))
    ap.add_argument("--s6", default="/usr/bin")
    ap.add_argument("--lines", type=int, default=500000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    sides = {"ours": os.path.join(a.ours, "s6-log"), "s6": os.path.join(a.s6, "s6-log")}
    for s, p in sides.items():
        if not os.access(p, os.X_OK):
            sys.exit(f"{s}: {p} not found")
    data = make_input(a.lines)
    mb = len(data) / 1e6
    scratch = tempfile.mkdtemp(prefix="s6rs-logbench-")
    try:
        res = {}
        for name, script in SCRIPTS.items():
            for rep in range(a.reps):
                order = ("ours", "s6") if rep % 2 == 0 else ("s6", "ours")
                for side in order:
                    e, cpu = run_once(sides[side], script, data, scratch)
                    res.setdefault((name, side), []).append((a.lines / e, cpu / mb))
        uss, dirty = {}, {}
        for side, p in sides.items():
            samples = [idle_uss(p, scratch) for _ in range(3)]
            uss[side] = statistics.median(x[0] for x in samples)
            dirty[side] = statistics.median(x[1] for x in samples)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"s6-log throughput: {a.lines} lines of 100 bytes ({mb:.0f} MB) from a pipe into "
          f"one logdir, `t n10 s1000000`; median of {a.reps}")
    print()
    print("| script | metric | ours | s6 | ours/s6 |")
    print("|---|---|---:|---:|---:|")
    for name in SCRIPTS:
        o = res[(name, "ours")]
        s = res[(name, "s6")]
        lo, ls = statistics.median(x[0] for x in o), statistics.median(x[0] for x in s)
        co, cs = statistics.median(x[1] for x in o), statistics.median(x[1] for x in s)
        print(f"| {name} | lines/s | {lo:,.0f} | {ls:,.0f} | {lo / ls:.2f} |")
        print(f"| {name} | CPU ms/MB | {co * 1000:.2f} | {cs * 1000:.2f} | {co / cs:.2f} |")
    print(f"| idle | USS KiB | {uss['ours']:.0f} | {uss['s6']:.0f} | "
          f"{uss['ours'] / uss['s6']:.2f} |")
    print(f"| idle | of which Private_Dirty KiB | {dirty['ours']:.0f} | {dirty['s6']:.0f} | "
          f"{dirty['ours'] / max(dirty['s6'], 1):.2f} |")
    print()
    print("USS counts the binary's read-only pages as private when no other process maps the "
          "same file (our multi-call binary is shared by every s6-rs program running).")


if __name__ == "__main__":
    main()
