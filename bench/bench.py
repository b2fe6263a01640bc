#!/usr/bin/env python3
"""Benchmark our s6-compatible suite against real s6, side by side, in one run.

Python 3 standard library only.  See bench/README.md for what each scenario measures.

Three builds: ours (scripts/install), Debian's s6 (--s6, /usr/bin) and, when a directory of
it is given (--static-s6 or $S6RS_STATIC_S6_BINDIR), skarnet's static musl s6.  They run
in scratch scan directories under /tmp with identical service directories; repetitions
alternate the sides (ours, s6, static, static, s6, ours, ...) to spread machine noise;
every svscan runs in its own session and is torn down with
`s6-svscanctl -t`, then SIGKILL of its process group and of every service session
still alive; a final scan of /proc checks that no process of the run is left.
"""

import argparse
import ctypes
import datetime
import errno
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# The static build (scripts/build-static): musl, else static glibc.
TARGETS = ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu")

# The longest side name ("static"): scratch paths pad side names to it.
SIDE_WIDTH = 6

SCENARIOS = ["sizes", "memory", "instructions", "chainload", "idle", "svc", "crash", "rescan", "scale"]
PROGRAMS = ["s6-svscan", "s6-supervise", "s6-svscanctl", "s6-svc", "s6-svstat", "s6-svok",
            "s6-svwait", "s6-svlisten1", "s6-svlisten", "s6-svdt", "s6-svdt-clear"]
SIZE_LIMIT = 1000 * 1000  # "< 1 MB" (issue 7), in bytes
# The three builds: ours (scripts/install), Debian's dynamic s6 (--s6), skarnet's static musl s6
# (--static-s6, when given).  Ratios are ours / each other side.
ALL_SIDES = ("ours", "s6", "static")
SIDE_LABEL = {"ours": "ours", "s6": "Debian s6", "static": "static s6"}
INSTALL_LIMIT = 1000 * 1000  # "install ≤ 1.0 MB" (issue 11), in bytes
SUPERVISE_USS_LIMIT = 20  # "USS per supervisor ≤ 20 KiB" (issue 11)

MARK_VAR = "S6BENCH_MARK"
RUN_ID = "s6bench-%d-%d" % (os.getpid(), int(time.time()))

# supervise/status: 35 bytes; pid = bytes 24..32 big-endian; flags = byte 34.
FLAG_FINISHING = 0x02
FLAG_READY = 0x08

PR_SET_CHILD_SUBREAPER = 36
IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100


def mono_ns():
    return time.monotonic_ns()


class ScenarioError(Exception):
    """A side cannot complete a scenario; the reason is shown as n/a in the table."""


class Interrupted(Exception):
    pass


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# --------------------------------------------------------------------------------------
# /proc helpers


def read_file(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def proc_children(pid):
    """Direct children of pid (CONFIG_PROC_CHILDREN, else a /proc scan)."""
    try:
        return [int(x) for x in read_file("/proc/%d/task/%d/children" % (pid, pid)).split()]
    except FileNotFoundError:
        pass
    kids = []
    for ent in os.listdir("/proc"):
        if ent.isdigit():
            try:
                st = read_file("/proc/%s/stat" % ent)
            except OSError:
                continue
            fields = st[st.rfind(")") + 2:].split()
            if int(fields[1]) == pid:
                kids.append(int(ent))
    return kids


def exe_of(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def smaps_rollup(pid):
    """(PSS, USS) in KiB from /proc/PID/smaps_rollup."""
    vals = {}
    for line in read_file("/proc/%d/smaps_rollup" % pid).splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":"):
            vals[parts[0][:-1]] = int(parts[1])
    return vals["Pss"], vals.get("Private_Clean", 0) + vals.get("Private_Dirty", 0)


def cpu_ns(pid):
    return int(read_file("/proc/%d/schedstat" % pid).split()[0])


def voluntary_switches(pid):
    for line in read_file("/proc/%d/status" % pid).splitlines():
        if line.startswith("voluntary_ctxt_switches"):
            return int(line.split()[1])
    return 0


def ctxt_switches(pid):
    n = 0
    for line in read_file("/proc/%d/status" % pid).splitlines():
        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
            n += int(line.split()[1])
    return n


def has_mark(pid, prefix):
    try:
        env = read_file("/proc/%d/environ" % pid, "rb")
    except OSError:
        return False
    return (b"\0" + MARK_VAR.encode() + b"=" + prefix.encode()) in b"\0" + env


def check_pid_room(n):
    """N services need about 2N pids (supervise + the service): refuse rather than starve
    the machine when pid_max is too small."""
    try:
        pid_max = int(read_file("/proc/sys/kernel/pid_max"))
        used = int(read_file("/proc/loadavg").split()[3].split("/")[1])  # threads in use
    except (OSError, ValueError, IndexError):
        return
    need = 2 * n + 1000
    if used + need > pid_max:
        raise ScenarioError("needs about %d pids, %d of kernel.pid_max=%d in use" % (need, used, pid_max))


def settle(seconds=0.5):
    """Before a timed start: flush dirty pages (the previous instance's service dirs, just
    written or removed) so that their writeback does not land in the next measurement."""
    os.sync()
    time.sleep(seconds)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def run_processes(prefix, scratch):
    """Processes (other than us) that belong to the run: marked environment, or cwd /
    cmdline under the scratch directory."""
    me = os.getpid()
    found = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        pid = int(ent)
        if pid == me:
            continue
        hit = has_mark(pid, prefix)
        if not hit and scratch:
            try:
                cwd = os.readlink("/proc/%d/cwd" % pid)
                hit = cwd == scratch or cwd.startswith(scratch + "/")
            except OSError:
                pass
            if not hit:
                try:
                    hit = scratch.encode() in read_file("/proc/%d/cmdline" % pid, "rb")
                except OSError:
                    pass
        if hit:
            try:
                cmd = read_file("/proc/%d/cmdline" % pid, "rb").replace(b"\0", b" ").decode(
                    "utf-8", "replace").strip()
            except OSError:
                cmd = "?"
            found.append((pid, cmd))
    return found


class Reaper:
    """We are a child subreaper: orphans of the run come back to us and are reaped here,
    so that nothing is left as a zombie under an init that may not reap."""

    def __init__(self):
        self.exited = {}  # pid -> (status, rusage) of tracked children reaped by reap_all
        self.tracked = set()
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self.subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except Exception:
            self.subreaper = False

    def reap_all(self):
        while True:
            try:
                pid, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.tracked:
                self.exited[pid] = (status, ru)

    def has_exited(self, pid):
        if pid in self.exited:
            return True
        try:
            return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def wait(self, pid):
        """Reap a tracked child; returns (status, rusage)."""
        self.tracked.discard(pid)
        if pid in self.exited:
            return self.exited.pop(pid)
        try:
            _, status, ru = os.wait4(pid, 0)
            return status, ru
        except ChildProcessError:
            return None, None


class Inotify:
    """Event-driven wait for supervise/status changes (s6 writes status.new + rename)."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")

    def watch(self, path):
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path),
                                         IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)

    def drain(self):
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def wait(self, timeout):
        select.select([self.fd], [], [], max(0.0, timeout))

    def close(self):
        os.close(self.fd)


# --------------------------------------------------------------------------------------
# ELF inspection (static? stripped?)


def elf_info(path):
    """{'static': bool, 'stripped': bool} for a 64-bit little-endian ELF file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return {"static": None, "stripped": None}
    e_phoff, e_shoff = struct.unpack_from("<QQ", data, 0x20)
    e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHHHH", data, 0x36)
    interp = False
    for i in range(e_phnum):
        (p_type,) = struct.unpack_from("<I", data, e_phoff + i * e_phentsize)
        if p_type == 3:  # PT_INTERP
            interp = True
    symtab = False
    debug = False
    if e_shoff and e_shnum:
        shdrs = [struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
        stro = shdrs[e_shstrndx][4]
        for sh in shdrs:
            name = data[stro + sh[0]:data.index(b"\0", stro + sh[0])]
            if sh[1] == 2:  # SHT_SYMTAB
                symtab = True
            if name.startswith(b".debug"):
                debug = True
    return {"static": not interp, "stripped": not symtab and not debug}


# --------------------------------------------------------------------------------------
# Suites and instances


class Suite:
    def __init__(self, side, bindir):
        self.side = side
        self.bindir = os.path.abspath(bindir)
        self.env = dict(os.environ)
        # Our svscan looks for s6-supervise next to itself, then in PATH; a non-Debian s6
        # (e.g. a 2.15 build) uses PATH: put the suite's bindir first either way.
        self.env["PATH"] = self.bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin")
        self._cap = {}

    def prog(self, name):
        return os.path.join(self.bindir, name)

    def missing(self, names):
        return [n for n in names if not os.access(self.prog(n), os.X_OK)]

    def require(self, *names):
        miss = self.missing(names)
        if miss:
            raise ScenarioError("%s not in %s" % (", ".join(miss), self.bindir))

    def cap_args(self, bench, n):
        """Options raising svscan's cap on services, probed once: 2.15 and later take
        `-C max` (each logger counts), Debian's 2.11 takes `-c max` (service slots).  The
        probe runs svscan with the option on a directory that does not exist: a known
        option fails on chdir (111), an unknown one is a usage error (100)."""
        if n < 400:
            return []
        want = n + 16
        if "opt" not in self._cap:
            self._cap["opt"] = None
            self._cap["why"] = []
            for opt in ("-C", "-c"):
                rc, err = bench.run_probe([self.prog("s6-svscan"), opt, "100", bench.scratch + "/no-such-dir"], self)
                self._cap["why"].append("%s -> exit %s" % (opt, rc))
                if rc == 111:
                    self._cap["opt"] = opt
                    break
        if self._cap["opt"] is None:
            raise ScenarioError("s6-svscan accepts neither -C nor -c (%s)" % "; ".join(self._cap["why"]))
        return [self._cap["opt"], str(want)]


RUN_SLEEP = "#!/bin/sh\ntrap '' HUP\nexec {sleep} 1000000\n"
RUN_READY = "#!/bin/sh\ntrap '' HUP\necho >&3\nexec 3>&-\nexec {sleep} 1000000\n"
RUN_CRASH = "#!/bin/sh\necho >> starts\nexit 0\n"


class Instance:
    """One scan directory with its svscan, for one suite."""

    def __init__(self, bench, suite, label, services):
        self.bench = bench
        self.suite = suite
        self.label = label
        # Side names padded to one length: every side's paths are equally long (a client's
        # instruction count grows with the length of the paths it is given).
        self.dir = tempfile.mkdtemp(prefix="%s-%s." % (label, suite.side.ljust(SIDE_WIDTH, "_")),
                                    dir=bench.scratch)
        self.scandir = os.path.join(self.dir, "scan")
        self.logpath = os.path.join(self.dir, "log")
        self.mark = "%s/%s" % (RUN_ID, os.path.basename(self.dir))
        self.env = dict(suite.env)
        self.env[MARK_VAR] = self.mark
        self.pid = None
        self.services = []
        self.sup_exe = os.path.realpath(suite.prog("s6-supervise"))
        t = time.monotonic()
        os.mkdir(self.scandir)
        for name, spec in services:
            self.add_service(name, spec)
        if time.monotonic() - t > 2:
            log("%s/%s: %d service dirs written in %.1f s" % (label, suite.side, len(services), time.monotonic() - t))
        self.logfd = os.open(self.logpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        bench.instances.add(self)

    def add_service(self, name, spec):
        d = os.path.join(self.scandir, name)
        os.mkdir(d)
        path = os.path.join(d, "run")
        with open(path, "w") as f:
            f.write(spec["run"].format(sleep=self.bench.sleep))
        os.chmod(path, 0o755)
        for fname, content in spec.get("files", {}).items():
            with open(os.path.join(d, fname), "w") as f:
                f.write(content)
        self.services.append(name)

    def sdir(self, name):
        return os.path.join(self.scandir, name)

    # -- processes

    def spawn(self, argv, setsid=False):
        return self.bench.spawn(argv, self.env, self.logfd, setsid=setsid)

    def call(self, argv):
        """Run a client to completion; returns (wall ns, exit code, CPU ns).  The CPU time
        (user + system, from wait4) includes the client's own reaped children, e.g. the
        s6-svc that s6-svlisten1 runs for `s6-svc -w`."""
        t0 = mono_ns()
        pid = self.spawn(argv)
        _, st, ru = os.wait4(pid, 0)
        t1 = mono_ns()
        return t1 - t0, os.waitstatus_to_exitcode(st), int(round((ru.ru_utime + ru.ru_stime) * 1e9))

    def check_call(self, argv):
        """(wall ns, CPU ns) of a client that must exit 0."""
        ns, rc, cpu = self.call(argv)
        if rc != 0:
            raise ScenarioError("`%s` exited %d%s" % (" ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv)), rc, self.log_tail()))
        return ns, cpu

    def log_tail(self):
        try:
            lines = [l for l in read_file(self.logpath).splitlines() if l.strip()]
        except OSError:
            return ""
        return (": " + lines[-1][:200]) if lines else ""

    def start(self, extra_args=()):
        self.suite.require("s6-svscan", "s6-supervise", "s6-svscanctl")
        argv = [self.suite.prog("s6-svscan")] + list(extra_args) + [self.scandir]
        self.t_start = mono_ns()
        self.pid = self.spawn(argv, setsid=True)
        self.bench.reaper.tracked.add(self.pid)
        return self.t_start

    def running(self):
        return self.pid is not None and not self.bench.reaper.has_exited(self.pid)

    def supervise_pids(self, n, timeout):
        """Wait until svscan has n s6-supervise children; checks that they run this
        suite's s6-supervise (and not, say, /usr/bin's)."""
        deadline = time.monotonic() + timeout
        svscan_exe = exe_of(self.pid)
        wrong_seen = {}
        while True:
            if not self.running():
                raise ScenarioError("s6-svscan exited early%s" % self.log_tail())
            sup = []
            for c in proc_children(self.pid):
                e = exe_of(c)
                if e is None:
                    continue
                e = e.replace(" (deleted)", "")
                if e == self.sup_exe:
                    sup.append(c)
                elif e != svscan_exe:
                    wrong_seen[c] = wrong_seen.get(c, 0) + 1
                    if wrong_seen[c] >= 3:
                        raise ScenarioError("s6-svscan spawned %s, expected %s" % (e, self.sup_exe))
            if len(sup) >= n:
                return sup
            if time.monotonic() > deadline:
                raise ScenarioError("only %d of %d s6-supervise after %.0f s" % (len(sup), n, timeout))
            time.sleep(0.005)

    def status(self, name):
        """(pid, flags) from supervise/status, or None if absent/short."""
        try:
            with open(os.path.join(self.scandir, name, "supervise", "status"), "rb") as f:
                b = f.read(35)
        except OSError:
            return None
        if len(b) < 35:
            return None
        return struct.unpack_from(">Q", b, 24)[0], b[34]

    def is_up(self, name):
        st = self.status(name)
        return st is not None and st[0] != 0 and not st[1] & FLAG_FINISHING

    def wait_all_up(self, names, timeout):
        """Poll until every service's status has a pid; returns the monotonic ns of the
        pass that saw the last one up.  Only services still pending are re-read, and the
        poller sleeps twice as long as a pass takes, so it uses at most a third of a CPU."""
        pending = list(names)
        deadline = time.monotonic() + timeout
        while True:
            t0 = time.monotonic()
            pending = [n for n in pending if not self.is_up(n)]
            if not pending:
                return mono_ns()
            if not self.running():
                raise ScenarioError("s6-svscan exited early%s" % self.log_tail())
            if time.monotonic() > deadline:
                raise ScenarioError("%d of %d services not up after %.0f s" % (len(pending), len(names), timeout))
            time.sleep(max(0.002, 2 * (time.monotonic() - t0)))

    def wait_status(self, ino, name, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            ino.drain()
            st = self.status(name)
            if st is not None and pred(st):
                return mono_ns()
            left = deadline - time.monotonic()
            if left <= 0:
                raise ScenarioError("status of %s not as expected after %.0f s (%r)" % (name, timeout, st))
            ino.wait(min(left, 0.05))

    def stop(self, timeout):
        """`s6-svscanctl -t`, then wait for svscan to exit.  Returns (ns from the call to
        svscan's exit, exit status, rusage of the whole reaped tree)."""
        t0 = mono_ns()
        pid = self.spawn([self.suite.prog("s6-svscanctl"), "-t", self.scandir])
        _, st = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(st)
        if rc != 0:
            raise ScenarioError("s6-svscanctl -t exited %d%s" % (rc, self.log_tail()))
        deadline = time.monotonic() + timeout
        while not self.bench.reaper.has_exited(self.pid):
            if time.monotonic() > deadline:
                raise ScenarioError("s6-svscan still running %.0f s after svscanctl -t" % timeout)
            time.sleep(0.002)
        t1 = mono_ns()
        self.kill_group()
        status, ru = self.bench.reaper.wait(self.pid)
        self.pid_reaped = True
        return t1 - t0, status, ru

    def kill_group(self):
        # svscan is our child and not yet reaped: its pid (= pgid, it is a session
        # leader) cannot have been reused.
        if self.pid is not None and not getattr(self, "pid_reaped", False):
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def teardown(self, timeout=30.0):
        """Idempotent: bring everything down, kill what is left, verify, remove files.
        Returns the number of processes that had to be killed after svscan's exit."""
        if self in self.bench.instances:
            self.bench.instances.discard(self)
        else:
            return 0
        leaks = []
        t_teardown = time.monotonic()
        if self.pid is not None and not getattr(self, "pid_reaped", False):
            if self.running():
                try:
                    self.stop(timeout)
                except ScenarioError as e:
                    log("%s/%s: teardown: %s" % (self.label, self.suite.side, e))
            self.kill_group()
            self.bench.reaper.wait(self.pid)
            self.pid_reaped = True
        t_stopped = time.monotonic()
        # Service sessions still alive (their pid = pgid = sid), checked by our mark so
        # that a recycled pid is never hit.
        for name in self.services:
            st = self.status(name)
            if st and st[0] and has_mark(st[0], self.mark):
                leaks.append((st[0], "service " + name))
                for kill in (os.killpg, os.kill):
                    try:
                        kill(st[0], signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
        # Anything else carrying the mark (or running under the directory).
        for _ in range(50):
            left = run_processes(self.mark, self.dir)
            if not left:
                break
            for pid, cmd in left:
                if (pid, cmd) not in leaks:
                    leaks.append((pid, cmd))
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)
            self.bench.reaper.reap_all()
        self.bench.reaper.reap_all()
        os.close(self.logfd)
        if leaks:
            log("%s/%s: killed %d leftover process(es): %s" % (
                self.label, self.suite.side, len(leaks), ", ".join("%d %s" % l for l in leaks[:5])))
            self.bench.leaks.extend({"instance": self.label, "side": self.suite.side, "pid": p, "cmd": c} for p, c in leaks)
        if self.bench.keep_logs:
            shutil.copy(self.logpath, os.path.join(self.bench.keep_logs, os.path.basename(self.dir) + ".log"))
        t_swept = time.monotonic()
        shutil.rmtree(self.dir, ignore_errors=True)
        t_end = time.monotonic()
        if t_end - t_teardown > 5:
            log("%s/%s: teardown took %.1f s (svscan stop %.1f s, sweep %.1f s, rm %.1f s)" % (
                self.label, self.suite.side, t_end - t_teardown, t_stopped - t_teardown, t_swept - t_stopped,
                t_end - t_swept))
        return len(leaks)


# --------------------------------------------------------------------------------------
# Results


class Results:
    """Rows of samples per side.  `target` is issue 7's goal (a ratio to Debian's s6, or an
    absolute bound on ours), `target11` issue 11's (a ratio to the static s6, or an absolute
    bound on ours)."""

    def __init__(self, sides):
        self.sides = sides
        self.rows = {}  # key -> row

    def row(self, scenario, metric, unit, target=None, note=None, target11=None):
        key = (scenario, metric)
        if key not in self.rows:
            self.rows[key] = {"scenario": scenario, "metric": metric, "unit": unit, "target": target,
                              "target11": target11, "note": note, "na": {}, "text": None}
            for s in ALL_SIDES:
                self.rows[key][s] = []
        r = self.rows[key]
        if target11 is not None:
            r["target11"] = target11
        return r

    def add(self, scenario, metric, side, value, unit, target=None, note=None, target11=None):
        self.row(scenario, metric, unit, target, note, target11)[side].append(value)

    def na(self, scenario, metric, side, reason, unit="", target=None, target11=None):
        self.row(scenario, metric, unit, target, target11=target11)["na"][side] = reason

    def text(self, scenario, metric, texts, target=None, target11=None):
        """texts: side -> cell text."""
        r = self.row(scenario, metric, "text", target, target11=target11)
        r["text"] = dict(texts)


IQR_FROM = 8  # from this many samples the table shows the interquartile range, not min–max


def summarize(vals):
    if not vals:
        return None
    s = sorted(vals)
    out = {"n": len(s), "median": statistics.median(s), "min": s[0], "max": s[-1]}
    if len(s) >= 4:
        q = statistics.quantiles(s, n=4)
        out["q1"], out["q3"] = q[0], q[2]
    return out


def scale_for(unit, v):
    """(divisor, unit label, decimals) for displaying values near v."""
    v = abs(v or 0)
    if unit == "ns":
        if v >= 1e9:
            return 1e9, "s", 2
        if v >= 1e6:
            return 1e6, "ms", 2
        if v >= 1e3:
            return 1e3, "µs", 0
        return 1, "ns", 0
    if unit == "KiB":
        if v >= 10240:
            return 1024, "MiB", 1
        return 1, "KiB", 0
    if unit == "B":
        return 1024, "KiB", 0
    if unit == "/s":
        return 1, "/s", 2
    if unit == "s":
        return 1, "s", 2
    return 1, unit, 0


def fmt(v, div, dec):
    if v is None:
        return "—"
    x = v / div
    if dec == 0:
        return "{:,.0f}".format(x)
    return "{:,.{}f}".format(x, dec)


def ratio_of(r, ref="s6"):
    """ours / ref side, on the medians."""
    so, ss = summarize(r["ours"]), summarize(r[ref])
    if not so or not ss:
        return None, ""
    a, b = so["median"], ss["median"]
    if b == 0:
        return None, ("both 0" if a == 0 else "∞ (%s = 0)" % SIDE_LABEL[ref])
    return a / b, "%.2f×" % (a / b)


def target_check(r, ratio):
    t = r["target"]
    if not t:
        return ""
    kind, val = t
    so = summarize(r["ours"])
    if kind == "ratio":
        mark = "" if ratio is None else (" ✅" if ratio <= val else " ❌")
        if ratio is None and so and summarize(r["s6"]) and summarize(r["s6"])["median"] == 0:
            mark = " ✅" if so["median"] == 0 else " ❌"
        return "≤ %.2g×%s" % (val, mark)
    if kind == "max":
        mark = "" if not so else (" ✅" if so["max"] <= val else " ❌")
        div, u, dec = scale_for(r["unit"], val)
        return "≤ %s %s (ours)%s" % (fmt(val, div, dec), u, mark) if val else "0 (ours)%s" % mark
    if kind == "size":
        mark = "" if not so else (" ✅" if so["max"] < val else " ❌")
        return "< %g MB (ours)%s" % (val / 1e6, mark)
    if kind == "text":
        return val
    return ""


def target11_check(r, sides):
    """Issue 11's goal: `≤ 1.5× static s6 ✅ (0.83×)`, `≤ 20 KiB ❌ (1.80×)`."""
    t = r.get("target11")
    if not t:
        return ""
    kind, val = t
    if kind == "text":
        return val
    so = summarize(r["ours"])
    if kind == "ratio_static":
        want = "≤ %s× static s6" % ("%.2g" % val if val != 1 else "1")
        if val == 1:
            want = "≤ static s6"
        if "static" not in sides:
            return want + " (not run)"
        ratio, rtxt = ratio_of(r, "static")
        if ratio is None:
            ss = summarize(r["static"])
            if so and ss and ss["median"] == 0:
                return want + (" ✅ (both 0)" if so["median"] == 0 else " ❌ (static s6 = 0)")
            return want
        return "%s %s (%.2f×)" % (want, "✅" if ratio <= val else "❌", ratio)
    if kind in ("max", "max_bytes"):
        if kind == "max_bytes":
            want = "≤ %.1f MB" % (val / 1e6)
        else:
            div, u, dec = scale_for(r["unit"], val)
            want = "≤ %s %s" % (fmt(val, div, dec), u)
        if not so:
            return want
        x = so["median"] if r["unit"] != "B" else so["max"]
        if val == 0:
            return want + (" ✅" if x == 0 else " ❌")
        return "%s %s (%.2f×)" % (want, "✅" if x <= val else "❌", x / val)
    return ""


def markdown(results):
    sides = results.sides
    head = ["Scenario", "Metric"] + ["%s: median [spread]" % SIDE_LABEL[s] for s in sides]
    refs = [s for s in sides if s != "ours"]
    head += ["ours/%s" % SIDE_LABEL[s] for s in refs] + ["issue 7 target", "issue 11 target"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results.rows.values():
        if r["text"]:
            cells = [r["scenario"], r["metric"]] + [r["text"].get(s, "—") for s in sides] + ["" for _ in refs]
            cells += [target_check(r, None), target11_check(r, sides)]
            out.append("| " + " | ".join(cells) + " |")
            continue
        sums = {s: summarize(r[s]) for s in sides}
        ref = max([sums[s]["median"] for s in sides if sums[s]] or [0])
        div, u, dec = scale_for(r["unit"], ref)
        cells = []
        for s in sides:
            if s in r["na"] and not sums[s]:
                cells.append("n/a (%s)" % r["na"][s])
            elif not sums[s]:
                cells.append("—")
            else:
                x = sums[s]
                c = ("%s %s" % (fmt(x["median"], div, dec), u)).rstrip()
                if x["n"] >= IQR_FROM:
                    c += " [IQR %s–%s]" % (fmt(x["q1"], div, dec), fmt(x["q3"], div, dec))
                elif x["n"] > 1:
                    c += " [%s–%s]" % (fmt(x["min"], div, dec), fmt(x["max"], div, dec))
                if s in r["na"]:
                    c += " (partial: %s)" % r["na"][s]
                cells.append(c.replace("  ", " "))
        ratio, _ = ratio_of(r)
        ns = [sums[s]["n"] for s in sides if sums[s]]
        metric = r["metric"] + (" (n=%d)" % max(ns) if ns and max(ns) > 1 else "")
        row = [r["scenario"], metric] + cells + [ratio_of(r, s)[1] for s in refs]
        row += [target_check(r, ratio), target11_check(r, sides)]
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# The benchmark


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.suites = {"ours": Suite("ours", args.ours), "s6": Suite("s6", args.s6)}
        if args.static_s6:
            self.suites["static"] = Suite("static", args.static_s6)
        self.sides = tuple(s for s in ALL_SIDES if s in self.suites)
        self.results = Results(self.sides)
        self.instances = set()
        self.leaks = []
        self.reaper = Reaper()
        self.scratch = tempfile.mkdtemp(prefix="s6bench.", dir=args.scratch_base)
        self.keep_logs = args.keep_logs
        self.sleep = shutil.which("sleep") or "/bin/sleep"
        self.devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        self.sigdef = [s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None)) if s]
        try:
            self.ino = Inotify()
        except Exception as e:
            self.ino = None
            log("inotify unavailable (%s): svc scenario disabled" % e)

    # ABBA order over the sides: ours first on even repetitions, last on odd ones
    def order(self, rep):
        return self.sides if rep % 2 == 0 else self.sides[::-1]

    def spawn(self, argv, env, errfd, setsid=False):
        fa = [(os.POSIX_SPAWN_DUP2, self.devnull, 0), (os.POSIX_SPAWN_DUP2, self.devnull, 1),
              (os.POSIX_SPAWN_DUP2, errfd, 2)]
        if setsid:
            # svscan: stdout and stderr (inherited by supervise and services) go to the log.
            fa[1] = (os.POSIX_SPAWN_DUP2, errfd, 1)
        return os.posix_spawn(argv[0], argv, env, file_actions=fa, setsid=setsid, setsigdef=self.sigdef)

    def run_probe(self, argv, suite):
        env = dict(suite.env)
        env[MARK_VAR] = RUN_ID + "/probe"
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, self.devnull, 0), (os.POSIX_SPAWN_DUP2, self.devnull, 1),
            (os.POSIX_SPAWN_DUP2, self.devnull, 2)], setsid=True, setsigdef=self.sigdef)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            p, st = os.waitpid(pid, os.WNOHANG)
            if p:
                return os.waitstatus_to_exitcode(st), ""
            time.sleep(0.01)
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None, "timeout"

    # -- scenario helpers

    def skip_side(self, failed, key, side, scenario, metrics, err):
        failed[(key, side)] = str(err)
        for m in metrics:
            self.results.na(scenario, m, side, str(err))
        log("%s: %s: n/a: %s" % (scenario, side, err))

    # -- scenarios

    def install_files(self, side):
        """(programs, names, helpers) of a side's install, as paths.  Ours: the s6 names and
        the short names of multicall/programs.list found in the bindir (what scripts/install
        makes, without --aliases).  Debian's s6 in /usr/bin: the package's own files
        (`dpkg -L s6`), helpers under /usr/lib.  Any other bindir (skarnet's static build): its
        executables except the runit / daemontools faces (s6-alias*, and every name resolving
        to one), helpers in ../libexec."""
        suite = self.suites[side]
        bindir = suite.bindir
        if side == "ours":
            progs, names = [], []
            try:
                lines = read_file(os.path.join(ROOT, "multicall", "programs.list")).splitlines()
            except OSError:
                lines = []
            for line in lines:
                f = line.split("#", 1)[0].split()
                if len(f) < 2:
                    continue
                for i, nm in enumerate(f[1:3]):
                    path = os.path.join(bindir, nm)
                    if nm != "-" and os.path.exists(path):
                        names.append(path)
                        if i == 0:
                            progs.append(path)
            return progs, names, []
        if os.path.realpath(bindir) in ("/usr/bin", "/bin"):
            try:
                out = subprocess.run(["dpkg", "-L", "s6"], capture_output=True, text=True, timeout=20).stdout
            except Exception:
                out = ""
            paths = [l for l in out.splitlines() if os.path.isfile(l) and not os.path.islink(l)]
            progs = [p for p in paths if os.path.dirname(p) in ("/usr/bin", "/bin")]
            helpers = [p for p in paths if p.startswith(("/usr/lib/", "/usr/libexec/")) and os.access(p, os.X_OK)
                       and not p.endswith((".so",)) and ".so." not in p]
            if progs:
                return progs, progs, helpers
        progs = []
        for ent in sorted(os.listdir(bindir)) if os.path.isdir(bindir) else []:
            path = os.path.join(bindir, ent)
            if (os.path.isfile(path) and os.access(path, os.X_OK) and not ent.startswith("s6-alias")
                    and not os.path.basename(os.path.realpath(path)).startswith("s6-alias")):
                progs.append(path)
        libexec = os.path.join(os.path.dirname(bindir), "libexec")
        helpers = [os.path.join(libexec, e) for e in sorted(os.listdir(libexec))] if os.path.isdir(libexec) else []
        return progs, progs, [h for h in helpers if os.path.isfile(h)]

    def sc_sizes(self):
        R = self.results
        sides = self.sides
        info = {s: {} for s in sides}
        for name in PROGRAMS:
            for s in sides:
                p = self.suites[s].prog(name)
                if os.path.exists(p):
                    real = os.path.realpath(p)
                    info[s][name] = dict(size=os.stat(real).st_size, **elf_info(real))
                    R.add("binary size", name, s, info[s][name]["size"], "B", target=("size", SIZE_LIMIT))
                else:
                    R.na("binary size", name, s, "missing", "B", target=("size", SIZE_LIMIT))
        for s in sides:
            if info[s]:
                R.add("binary size", "total of the above", s, sum(x["size"] for x in info[s].values()), "B")

        def flags(s, key):
            n = sum(1 for x in info[s].values() if x[key])
            return "%d/%d" % (n, len(info[s])) if info[s] else "—"

        R.text("binary size", "static (no ELF interpreter)", {s: flags(s, "static") for s in sides},
               target=("text", "all (ours)"))
        R.text("binary size", "stripped (no .symtab / .debug)", {s: flags(s, "stripped") for s in sides},
               target=("text", "all (ours)"))
        # Dynamic s6 binaries also map skalibs/libs6: show what they need besides libc.
        for s in sides:
            if info[s] and not all(x["static"] for x in info[s].values()):
                libs = shared_libs(self.suites[s].prog("s6-supervise"))
                if libs:
                    R.add("binary size", "shared libs of s6-supervise except libc (%s)" % ", ".join(
                        os.path.basename(l) for l in libs), s, sum(os.stat(l).st_size for l in libs), "B")

        # The whole install: every program under every name it is installed as, each distinct
        # file (inode) counted once, so hard links are free.
        scen = "install"
        counts, disk, disk_libs, disk_stripped = {}, {}, {}, {}
        strip = shutil.which("strip")
        for s in sides:
            progs, names, helpers = self.install_files(s)
            if not names:
                R.na(scen, "on disk: Σ of distinct files (every name, helpers)", s, "no program found", "B")
                continue
            files = {}
            for p in names + helpers:
                real = os.path.realpath(p)
                st = os.stat(real)
                files[(st.st_dev, st.st_ino)] = (real, st.st_size)
            counts[s] = "%d programs, %d names, %d file%s%s" % (
                len(progs), len(names), len(files), "" if len(files) == 1 else "s",
                " (incl. %d helper%s)" % (len(helpers), "" if len(helpers) == 1 else "s") if helpers else "")
            disk[s] = sum(sz for _, sz in files.values())
            libs = set()
            for real, _ in files.values():
                if elf_info(real)["static"] is False:
                    libs.update(shared_libs(real))
            disk_libs[s] = disk[s] + sum(os.stat(l).st_size for l in libs)
            if strip:
                total = 0
                tmp = tempfile.mkdtemp(prefix="strip-", dir=self.scratch)
                try:
                    for i, (real, sz) in enumerate(files.values()):
                        if elf_info(real)["stripped"] is False:
                            cp = os.path.join(tmp, str(i))
                            shutil.copyfile(real, cp)
                            subprocess.run([strip, "--strip-all", cp], capture_output=True, timeout=60)
                            sz = os.stat(cp).st_size
                        total += sz
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                disk_stripped[s] = total
        R.text(scen, "programs (s6 names), names installed, distinct files", counts)
        for s, v in disk.items():
            R.add(scen, "on disk: Σ of distinct files (every name, helpers)", s, v, "B",
                  target11=("max_bytes", INSTALL_LIMIT))
        for s, v in disk_libs.items():
            R.add(scen, "on disk + shared libraries except libc", s, v, "B")
        for s, v in disk_stripped.items():
            R.add(scen, "on disk if stripped (`strip --strip-all` of a copy)", s, v, "B")

    def sc_memory(self):
        ns = self.args.memory_n
        reps = self.args.reps or (2 if self.quick else 5)
        settle = 0.5
        metrics = ["PSS per service (all supervise + svscan) / N", "USS per service (all supervise + svscan) / N",
                   "s6-supervise PSS (median process)", "s6-supervise USS (median process)", "s6-svscan PSS",
                   "s6-svscan USS"]
        totals = {}  # (n, side) -> [Σ USS of svscan and every supervise]
        for n in ns:
            scen = "memory, N=%d" % n
            failed = {}
            for rep in range(reps):
                for side in self.order(rep):
                    if (n, side) in failed:
                        continue
                    suite = self.suites[side]
                    try:
                        check_pid_room(n)
                    except ScenarioError as e:
                        self.skip_side(failed, n, side, scen, metrics, e)
                        continue
                    inst = Instance(self, suite, "mem%d" % n,
                                    [("s%05d" % i, {"run": RUN_SLEEP}) for i in range(n)])
                    try:
                        inst.start(suite.cap_args(self, n))
                        inst.wait_all_up(inst.services, 60 + n * 0.05)
                        time.sleep(settle)
                        sup = inst.supervise_pids(n, 10)
                        pss = []
                        uss = []
                        for p in sup:
                            a, b = smaps_rollup(p)
                            pss.append(a)
                            uss.append(b)
                        spss, suss = smaps_rollup(inst.pid)
                        vals = [(sum(pss) + spss) / n, (sum(uss) + suss) / n, statistics.median(pss),
                                statistics.median(uss), spss, suss]
                        totals.setdefault((n, side), []).append(sum(uss) + suss)
                        for m, v in zip(metrics, vals):
                            R_target = ("ratio", 0.75) if "USS per service" in m else None
                            t11 = {"s6-supervise USS (median process)": ("max", SUPERVISE_USS_LIMIT),
                                   "s6-svscan USS": ("ratio_static", 1.0)}.get(m)
                            self.results.add(scen, m, side, v, "KiB", target=R_target, target11=t11)
                    except ScenarioError as e:
                        self.skip_side(failed, n, side, scen, metrics, e)
                    finally:
                        inst.teardown()
                log("%s: repetition %d/%d done" % (scen, rep + 1, reps))
        # What one more service costs: the slope between N=1 and each larger N, on the medians
        # (every N is its own svscan, so there is no per-repetition pairing).
        if 1 in ns:
            for n in ns:
                if n == 1:
                    continue
                for side in self.sides:
                    a, b = totals.get((1, side)), totals.get((n, side))
                    m = "marginal USS per added service: (Σ at N=%d − Σ at N=1) / %d" % (n, n - 1)
                    if a and b:
                        self.results.add("memory, marginal", m, side,
                                         (statistics.median(b) - statistics.median(a)) / (n - 1), "KiB")
                    else:
                        self.results.na("memory, marginal", m, side, "no sample", "KiB")

    def sc_idle(self):
        n = self.args.idle_n
        window = self.args.idle_seconds or (3.0 if self.quick else 10.0)
        reps = self.args.reps or (1 if self.quick else 3)
        scen = "idle, N=%d, %.0f s" % (n, window)
        metrics = ["CPU time, svscan + all supervise", "context switches, svscan + all supervise",
                   "processes that ran at all"]
        failed = {}
        for rep in range(reps):
            for side in self.order(rep):
                if side in failed:
                    continue
                suite = self.suites[side]
                inst = Instance(self, suite, "idle", [("s%05d" % i, {"run": RUN_SLEEP}) for i in range(n)])
                try:
                    inst.start(suite.cap_args(self, n))
                    inst.wait_all_up(inst.services, 60)
                    time.sleep(1.0)
                    pids = [inst.pid] + inst.supervise_pids(n, 10)
                    before = {p: (cpu_ns(p), ctxt_switches(p)) for p in pids}
                    time.sleep(window)
                    try:
                        after = {p: (cpu_ns(p), ctxt_switches(p)) for p in pids}
                    except FileNotFoundError:
                        raise ScenarioError("a supervisor died during the idle window")
                    dcpu = sum(after[p][0] - before[p][0] for p in pids)
                    dcs = sum(after[p][1] - before[p][1] for p in pids)
                    active = sum(1 for p in pids if after[p] != before[p])
                    self.results.add(scen, metrics[0], side, dcpu, "ns", target=("max", 0))
                    self.results.add(scen, metrics[1], side, dcs, "", target=("max", 0))
                    self.results.add(scen, metrics[2], side, active, "", target=("max", 0))
                except ScenarioError as e:
                    self.skip_side(failed, "idle", side, scen, metrics, e)
                finally:
                    inst.teardown()
            log("%s: repetition %d/%d done" % (scen, rep + 1, reps))

    def sc_svc(self):
        scen = "client calls"
        if self.ino is None:
            for m in ("svc",):
                for s in self.sides:
                    self.results.na(scen, m, s, "no inotify")
            return
        pairs = self.args.reps or (10 if self.quick else 100)
        calls = 3
        ino = self.ino
        is_up = lambda st: st[0] != 0 and not st[1] & FLAG_FINISHING
        is_down = lambda st: st[0] == 0 and not st[1] & FLAG_FINISHING
        is_ready = lambda st: is_up(st) and st[1] & FLAG_READY
        M = {
            "u": ("`svc -u` until status up", None),
            "d": ("`svc -d` until status down", None),
            "wu": ("`svc -wu -u`", ("ratio", 0.5)),
            "wd": ("`svc -wd -d`", ("ratio", 0.5)),
            "wU": ("`svc -wU -u` (readiness)", None),
            "h": ("`svc -h`", ("ratio", 0.9)),
            "stat": ("`svstat DIR`", ("ratio", 0.9)),
            "ok": ("`svok DIR`", None),
        }
        CPU_KEYS = ("wu", "wd", "h", "stat", "ok")
        cpu_name = lambda key: M[key][0] + ": client CPU (user+sys)"
        all_metrics = [m for m, _ in M.values()] + [cpu_name(k) for k in CPU_KEYS]
        insts = {}
        failed = {}
        try:
            for side in self.sides:
                suite = self.suites[side]
                try:
                    suite.require("s6-svc", "s6-svstat", "s6-svok", "s6-svlisten1")
                    inst = Instance(self, suite, "svc", [
                        ("svc", {"run": RUN_SLEEP, "files": {"down": ""}}),
                        ("ready", {"run": RUN_READY, "files": {"down": "", "notification-fd": "3\n"}}),
                        ("idle", {"run": RUN_SLEEP}),
                    ])
                    insts[side] = inst
                    inst.start()
                    inst.supervise_pids(3, 10)
                    inst.wait_all_up(["idle"], 10)
                    for name in ("svc", "ready"):
                        deadline = time.monotonic() + 10
                        while inst.status(name) is None:
                            if time.monotonic() > deadline:
                                raise ScenarioError("no status for %s" % name)
                            time.sleep(0.01)
                        ino.watch(inst.sdir(name) + "/supervise")
                        inst.wait_status(ino, name, is_down)
                except ScenarioError as e:
                    self.skip_side(failed, "svc", side, scen, all_metrics, e)

            def one_round(side, record):
                inst = insts[side]
                P = inst.suite.prog
                S = inst.sdir

                def rec(key, res):
                    if not record:
                        return
                    cpu = None
                    if isinstance(res, tuple):
                        res, cpu = res
                    self.results.add(scen, M[key][0], side, res, "ns", target=M[key][1])
                    if cpu is not None and key in CPU_KEYS:
                        self.results.add(scen, cpu_name(key), side, cpu, "ns")

                # svc -u / -d, timed until the status file says so
                t0 = mono_ns()
                pid = inst.spawn([P("s6-svc"), "-u", S("svc")])
                t1 = inst.wait_status(ino, "svc", is_up)
                _, st = os.waitpid(pid, 0)
                if os.waitstatus_to_exitcode(st) != 0:
                    raise ScenarioError("s6-svc -u failed%s" % inst.log_tail())
                rec("u", t1 - t0)
                t0 = mono_ns()
                pid = inst.spawn([P("s6-svc"), "-d", S("svc")])
                t1 = inst.wait_status(ino, "svc", is_down)
                _, st = os.waitpid(pid, 0)
                if os.waitstatus_to_exitcode(st) != 0:
                    raise ScenarioError("s6-svc -d failed%s" % inst.log_tail())
                rec("d", t1 - t0)
                # svc -wu -u / -wd -d, timed until svc exits
                rec("wu", inst.check_call([P("s6-svc"), "-wu", "-T", "10000", "-u", S("svc")]))
                inst.wait_status(ino, "svc", is_up, 5)
                rec("wd", inst.check_call([P("s6-svc"), "-wd", "-T", "10000", "-d", S("svc")]))
                inst.wait_status(ino, "svc", is_down, 5)
                # readiness
                rec("wU", inst.check_call([P("s6-svc"), "-wU", "-T", "10000", "-u", S("ready")]))
                inst.wait_status(ino, "ready", is_ready, 5)
                inst.check_call([P("s6-svc"), "-wd", "-T", "10000", "-d", S("ready")])
                inst.wait_status(ino, "ready", is_down, 5)
                # cheap calls on an up service (its run ignores SIGHUP)
                for _ in range(calls):
                    rec("h", inst.check_call([P("s6-svc"), "-h", S("idle")]))
                    rec("stat", inst.check_call([P("s6-svstat"), S("idle")]))
                    rec("ok", inst.check_call([P("s6-svok"), S("idle")]))

            for rep in range(-1, pairs):  # rep -1: warm-up, not recorded
                for side in self.order(max(rep, 0)):
                    if side in insts and ("svc", side) not in failed:
                        try:
                            one_round(side, rep >= 0)
                        except ScenarioError as e:
                            self.skip_side(failed, "svc", side, scen, all_metrics, e)
                if rep % 10 == 9 or rep == pairs - 1:
                    log("%s: repetition %d/%d done" % (scen, rep + 1, pairs))
        finally:
            for inst in insts.values():
                inst.teardown()

    def sc_crash(self):
        window = self.args.crash_seconds or (4.0 if self.quick else 5.0)
        reps = self.args.reps or (1 if self.quick else 3)
        scen = "crash loop (run exits at once), %.0f s" % window
        metrics = ["starts per second", "median interval between starts",
                   "s6-supervise CPU per restart cycle (utime+stime, from schedstat)"]
        failed = {}
        for rep in range(reps):
            for side in self.order(rep):
                if side in failed:
                    continue
                inst = Instance(self, self.suites[side], "crash", [("crash", {"run": RUN_CRASH})])
                try:
                    inst.start()
                    path = inst.sdir("crash") + "/starts"
                    size = lambda: os.stat(path).st_size if os.path.exists(path) else 0
                    deadline = time.monotonic() + 10
                    while size() == 0:
                        if time.monotonic() > deadline or not inst.running():
                            raise ScenarioError("run never started%s" % inst.log_tail())
                        time.sleep(0.002)
                    last = size()
                    # The supervisor's CPU time (schedstat: ns on CPU, user + system) at each
                    # start seen: what one cycle (reap, status, the 1 s throttle, fork) costs it.
                    sup = inst.supervise_pids(1, 10)[0]
                    stamps = [time.monotonic()] * last
                    cpus = [cpu_ns(sup)]
                    end = stamps[0] + window
                    while time.monotonic() < end + 0.01:
                        s = size()
                        if s != last:
                            now = time.monotonic()
                            if now <= end:
                                cpus.append(cpu_ns(sup))
                            stamps.extend([now] * (s - last))
                            last = s
                        time.sleep(0.002)
                    stamps = [t for t in stamps if t <= end]
                    if len(stamps) < 2:
                        raise ScenarioError("only %d start in %.0f s" % (len(stamps), window))
                    ivals = [b - a for a, b in zip(stamps, stamps[1:])]
                    span = max(stamps[-1] - stamps[0], 0.002)  # a runaway loop can start twice per poll
                    self.results.add(scen, metrics[0], side, (len(stamps) - 1) / span, "/s",
                                     target=("text", "≈ 1/s, as s6"))
                    self.results.add(scen, metrics[1], side, statistics.median(ivals), "s")
                    if len(cpus) >= 2 and len(stamps) >= 2:
                        self.results.add(scen, metrics[2], side, (cpus[-1] - cpus[0]) / (len(stamps) - 1), "ns",
                                         target11=("ratio_static", 1.0))
                except ScenarioError as e:
                    self.skip_side(failed, "crash", side, scen, metrics, e)
                finally:
                    inst.teardown()
            log("%s: repetition %d/%d done" % (scen, rep + 1, reps))

    def same_length_prog(self, side, name):
        """A path to side's NAME as long as every other side's: a symbolic link in
        scratch/argv0-SIDE_/. musl's start-up scans the whole argv[0] (about 5 instructions
        per byte), the same code for every build, so callgrind counts are taken with argv[0]s
        of one length, and measure the programs rather than where they are installed."""
        d = os.path.join(self.scratch, "argv0-" + side.ljust(SIDE_WIDTH, "_"))
        os.makedirs(d, exist_ok=True)
        link = os.path.join(d, name)
        if not os.path.lexists(link):
            os.symlink(self.suites[side].prog(name), link)
        return link

    def sc_instructions(self):
        """Instructions (callgrind's "Collected" total: every instruction the process ran,
        dynamic loader and libc included, no noise) of s6-svstat, s6-svok and s6-svc -h on a
        live service; then the same calls timed, interleaved round-robin over the sides."""
        scen_i = "instructions (callgrind)"
        scen_w = "client calls, interleaved"
        calls = [("svstat", "`s6-svstat DIR`", "s6-svstat", []), ("svok", "`s6-svok DIR`", "s6-svok", []),
                 ("h", "`s6-svc -h DIR`", "s6-svc", ["-h"])]
        m_ir = {k: "%s: instructions" % label for k, label, _, _ in calls}
        m_wall = {k: "%s: wall time" % label for k, label, _, _ in calls}
        m_cpu = {k: "%s: client CPU (user+sys)" % label for k, label, _, _ in calls}
        # The same clients' answers for a directory no supervisor runs on (as at boot, before
        # s6-svscan gets to it): an error line on the error paths, exit 1 (s6-svc: 100-102).
        nosup = tempfile.mkdtemp(prefix="nosup-", dir=self.scratch)
        errcalls = [("svstat-nosup", "`s6-svstat NOSUP`", "s6-svstat", []),
                    ("svc-nosup", "`s6-svc -u NOSUP`", "s6-svc", ["-u"])]
        m_wall.update({k: "%s: wall time" % label for k, label, _, _ in errcalls})
        m_cpu.update({k: "%s: client CPU (user+sys)" % label for k, label, _, _ in errcalls})
        valgrind = shutil.which("valgrind")
        creps = self.args.reps or (1 if self.quick else 3)
        nwall = self.args.calls or (20 if self.quick else 200)
        insts, failed = {}, {}
        try:
            for side in self.sides:
                suite = self.suites[side]
                try:
                    suite.require("s6-svc", "s6-svstat", "s6-svok")
                    inst = Instance(self, suite, "instr", [("idle", {"run": RUN_SLEEP})])
                    insts[side] = inst
                    inst.start()
                    inst.supervise_pids(1, 10)
                    inst.wait_all_up(["idle"], 10)
                except ScenarioError as e:
                    self.skip_side(failed, "instr", side, scen_w, list(m_wall.values()) + list(m_cpu.values()), e)
            if not valgrind:
                for side in self.sides:
                    for m in m_ir.values():
                        self.results.na(scen_i, m, side, "valgrind not installed")
            for rep in range(creps if valgrind else 0):
                for side in self.order(rep):
                    if side not in insts or ("instr", side) in failed:
                        continue
                    inst = insts[side]
                    for key, _, prog, opts in calls:
                        argv = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null",
                                self.same_length_prog(side, prog)] + opts + [inst.sdir("idle")]
                        try:
                            p = subprocess.run(argv, env=inst.env, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
                        except subprocess.TimeoutExpired:
                            self.results.na(scen_i, m_ir[key], side, "valgrind timed out")
                            continue
                        err = p.stderr.decode("utf-8", "replace")
                        found = re.search(r"Collected\s*:\s*([0-9,]+)", err)
                        if p.returncode != 0 or not found:
                            self.results.na(scen_i, m_ir[key], side, "exit %d under valgrind" % p.returncode)
                            continue
                        self.results.add(scen_i, m_ir[key], side, int(found.group(1).replace(",", "")), "",
                                         target11=("ratio_static", 1.5))
                log("%s: repetition %d/%d done" % (scen_i, rep + 1, creps))
            for rep in range(-1, nwall):  # rep -1: warm-up, not recorded
                for side in self.order(max(rep, 0)):
                    if side not in insts or ("instr", side) in failed:
                        continue
                    inst = insts[side]
                    try:
                        for key, _, prog, opts in calls:
                            ns, cpu = inst.check_call([inst.suite.prog(prog)] + opts + [inst.sdir("idle")])
                            if rep >= 0:
                                self.results.add(scen_w, m_wall[key], side, ns, "ns", target11=("ratio_static", 1.0))
                                self.results.add(scen_w, m_cpu[key], side, cpu, "ns")
                        for key, label, prog, opts in errcalls:
                            ns, rc, cpu = inst.call([inst.suite.prog(prog)] + opts + [nosup])
                            if rc == 0:
                                raise ScenarioError("%s exited 0" % label)
                            if rep >= 0:
                                self.results.add(scen_w, m_wall[key], side, ns, "ns")
                                self.results.add(scen_w, m_cpu[key], side, cpu, "ns")
                    except ScenarioError as e:
                        self.skip_side(failed, "instr", side, scen_w, list(m_wall.values()) + list(m_cpu.values()), e)
                if rep % 50 == 49 or rep == nwall - 1:
                    log("%s: round %d/%d done" % (scen_w, rep + 1, nwall))
        finally:
            for inst in insts.values():
                inst.teardown()
            shutil.rmtree(nosup, ignore_errors=True)

    def sc_chainload(self):
        """Instructions (callgrind) each chain-loader adds to an exec chain (issue 13's
        target: at most 1.2x static s6's): the program's whole run up to its execve of PROG,
        with PROG a name that is nowhere on PATH, so both builds end with the same failed
        search and error line. Same environment for every side: `PATH=/usr/bin:/bin` only."""
        scen = "chain-loaders: instructions up to the exec (callgrind; issue 13 target)"
        valgrind = shutil.which("valgrind")
        work = tempfile.mkdtemp(prefix="chainload-", dir=self.scratch)
        envdir = os.path.join(work, "env")
        os.mkdir(envdir)
        for name, value in (("A", "a\n"), ("B", "b\n")):
            with open(os.path.join(envdir, name), "w") as f:
                f.write(value)
        lockfile = os.path.join(work, "lock")
        open(lockfile, "w").close()
        prog = "s6rs-bench-no-such-prog"
        calls = [("`s6-setsid PROG`", "s6-setsid", []),
                 ("`s6-setlock FILE PROG`", "s6-setlock", [lockfile]),
                 ("`s6-applyuidgid -u 65534 -g 65534 PROG`", "s6-applyuidgid", ["-u", "65534", "-g", "65534"]),
                 ("`s6-envdir DIR PROG` (two files)", "s6-envdir", [envdir]),
                 ("`s6-softlimit -m 100000000 PROG`", "s6-softlimit", ["-m", "100000000"]),
                 ("`s6-envuidgid nobody PROG`", "s6-envuidgid", ["nobody"])]
        env = {"PATH": "/usr/bin:/bin"}
        creps = self.args.reps or (1 if self.quick else 3)
        for label, name, opts in calls:
            metric = "%s: instructions" % label
            for side in self.sides:
                if not valgrind:
                    self.results.na(scen, metric, side, "valgrind not installed")
                    continue
                if not os.access(self.suites[side].prog(name), os.X_OK):
                    self.results.na(scen, metric, side, "no %s" % name)
                    continue
                exe = self.same_length_prog(side, name)
                for _ in range(creps):
                    argv = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", exe] + opts + [prog]
                    try:
                        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE, timeout=120)
                    except subprocess.TimeoutExpired:
                        self.results.na(scen, metric, side, "valgrind timed out")
                        break
                    err = p.stderr.decode("utf-8", "replace")
                    found = re.search(r"Collected\s*:\s*([0-9,]+)", err)
                    # Every side fails the exec of PROG: 127, with its error line.
                    if p.returncode != 127 or not found:
                        self.results.na(scen, metric, side, "exit %d under valgrind" % p.returncode)
                        break
                    self.results.add(scen, metric, side, int(found.group(1).replace(",", "")), "",
                                     target11=("ratio_static", 1.2))
        log("%s: done" % scen)
        shutil.rmtree(work, ignore_errors=True)

    def wait_quiet(self, pid, vcs_before, timeout=5.0):
        """Wait until pid has gone back to sleep after a wake-up: its voluntary context
        switches moved past vcs_before, it is sleeping, and its CPU time stays put for 2 ms."""
        deadline = time.monotonic() + timeout
        prev = None
        while True:
            try:
                state = read_file("/proc/%d/stat" % pid)
                state = state[state.rfind(")") + 2:].split()[0]
                vcs = voluntary_switches(pid)
                cpu = cpu_ns(pid)
            except OSError:
                raise ScenarioError("s6-svscan exited during a rescan")
            if vcs > vcs_before and state == "S" and cpu == prev:
                return
            prev = cpu
            if time.monotonic() > deadline:
                raise ScenarioError("s6-svscan did not go back to sleep %.0f s after svscanctl -a" % timeout)
            time.sleep(0.002)

    def sc_rescan(self):
        """svscan's CPU per rescan: N services up, then `s6-svscanctl -a` K times, each time
        waiting until svscan has handled it and gone back to sleep; Δ schedstat / K."""
        n = self.args.rescan_n
        k = self.args.rescans or (20 if self.quick else 100)
        reps = self.args.reps or (1 if self.quick else 3)
        scen = "rescan, N=%d" % n
        metrics = ["s6-svscan CPU per `s6-svscanctl -a` (utime+stime, from schedstat)"]
        failed = {}
        for rep in range(reps):
            for side in self.order(rep):
                if side in failed:
                    continue
                suite = self.suites[side]
                inst = Instance(self, suite, "rescan", [("s%05d" % i, {"run": RUN_SLEEP}) for i in range(n)])
                try:
                    inst.start(suite.cap_args(self, n))
                    inst.wait_all_up(inst.services, 60 + n * 0.05)
                    inst.supervise_pids(n, 10)
                    time.sleep(0.5)
                    c0 = cpu_ns(inst.pid)
                    for _ in range(k):
                        before = voluntary_switches(inst.pid)
                        inst.check_call([suite.prog("s6-svscanctl"), "-a", inst.scandir])
                        self.wait_quiet(inst.pid, before)
                    c1 = cpu_ns(inst.pid)
                    self.results.add(scen, metrics[0], side, (c1 - c0) / k, "ns", target11=("ratio_static", 1.0))
                except ScenarioError as e:
                    self.skip_side(failed, "rescan", side, scen, metrics, e)
                finally:
                    inst.teardown()
            log("%s: repetition %d/%d done" % (scen, rep + 1, reps))

    def sc_scale(self):
        for n in self.args.scale_n:
            reps = self.args.reps or (1 if self.quick else (3 if n >= 5000 else 5))
            scen = "scale, N=%d" % n
            t1000 = ("ratio", 0.8) if n == 1000 else None
            metrics = ["all up: wall time (svscan start → every status pid ≠ 0)",
                       "all up: CPU of svscan + all supervise", "svscanctl -t → all down, svscan exited: wall time",
                       "CPU of the whole tree, start → exit (incl. services)", "processes left after svscan exit"]
            failed = {}
            for rep in range(reps):
                for side in self.order(rep):
                    if (n, side) in failed:
                        continue
                    suite = self.suites[side]
                    try:
                        check_pid_room(n)
                    except ScenarioError as e:
                        self.skip_side(failed, n, side, scen, metrics, e)
                        continue
                    inst = Instance(self, suite, "scale%d" % n, [("s%05d" % i, {"run": RUN_SLEEP}) for i in range(n)])
                    try:
                        cap = suite.cap_args(self, n)
                        settle()
                        t0 = inst.start(cap)
                        t_up = inst.wait_all_up(inst.services, 60 + n * 0.05)
                        sup = inst.supervise_pids(n, 10)
                        cpu = 0
                        for p in [inst.pid] + sup:
                            cpu += cpu_ns(p)
                        down_ns, status, ru = inst.stop(60 + n * 0.01)
                        rc = os.waitstatus_to_exitcode(status) if status is not None else None
                        still_up = sum(1 for s in inst.services if (inst.status(s) or (0, 0))[0] != 0)
                        left = inst.teardown()
                        self.results.add(scen, metrics[0], side, t_up - t0, "ns", target=t1000)
                        self.results.add(scen, metrics[1], side, cpu, "ns", target=t1000)
                        self.results.add(scen, metrics[2], side, down_ns, "ns")
                        self.results.add(scen, metrics[3], side, int((ru.ru_utime + ru.ru_stime) * 1e9), "ns")
                        self.results.add(scen, metrics[4], side, left + still_up, "", target=("max", 0))
                        if rc != 0:
                            raise ScenarioError("s6-svscan exited %s after svscanctl -t" % rc)
                    except ScenarioError as e:
                        self.skip_side(failed, n, side, scen, metrics, e)
                    finally:
                        inst.teardown()
                log("%s: repetition %d/%d done" % (scen, rep + 1, reps))

    # -- driver

    def run(self, only):
        for sc in only:
            log("scenario %s" % sc)
            t = time.monotonic()
            getattr(self, "sc_" + sc)()
            log("scenario %s took %.1f s" % (sc, time.monotonic() - t))

    def cleanup(self):
        for inst in list(self.instances):
            try:
                inst.teardown(timeout=10)
            except Exception as e:  # keep cleaning
                log("teardown error: %s" % e)
        left = []
        for _ in range(50):
            procs = run_processes(RUN_ID, self.scratch)
            if not procs:
                break
            left.extend(p for p in procs if p not in left)
            for pid, _ in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.05)
            self.reaper.reap_all()
        self.reaper.reap_all()
        if left:
            self.leaks.extend({"instance": "final sweep", "side": "?", "pid": p, "cmd": c} for p, c in left)
        final = run_processes(RUN_ID, self.scratch)
        shutil.rmtree(self.scratch, ignore_errors=True)
        return final, os.path.exists(self.scratch)


def shared_libs(path):
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=10).stdout
    except Exception:
        return []
    libs = []
    for line in out.splitlines():
        parts = line.split("=>")
        if len(parts) == 2:
            lib = parts[1].split("(")[0].strip()
            base = os.path.basename(lib)
            if lib.startswith("/") and not base.startswith(("libc.so", "ld-linux", "libm.so", "libpthread", "libdl")):
                libs.append(os.path.realpath(lib))
    return libs


def machine_info():
    def cmd(*a):
        try:
            return subprocess.run(list(a), capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return None
    cpu = None
    try:
        for line in read_file("/proc/cpuinfo").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = read_file("/proc/meminfo").splitlines()[0].split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "hostname": socket.gethostname(),
        "nproc": cmd("nproc") or str(len(os.sched_getaffinity(0))),
        "kernel": " ".join(platform.uname()[2:4]) if platform.uname() else None,
        "cpu_model": cpu,
        "mem_total": mem,
        "loadavg_start": read_file("/proc/loadavg").strip(),
        "python": platform.python_version(),
        "s6_package": cmd("dpkg-query", "-W", "-f", "${Version}", "s6"),
        "ours_git": cmd("git", "-C", ROOT, "describe", "--always", "--dirty"),
    }


def fs_type(path):
    """Filesystem type of the mount holding path (longest matching mount point)."""
    path = os.path.realpath(path)
    best, kind = "", "?"
    try:
        for line in read_file("/proc/mounts").splitlines():
            parts = line.split()
            mnt = parts[1].replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, parts[2]
    except OSError:
        pass
    return kind


def parse_ns(s):
    return [int(x) for x in s.split(",") if x]


def main():
    tdir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    # bench/run's install (s6-svscan and s6-supervise hard-linked, as users get them), else
    # the build directories.
    dirs = [os.path.join(tdir, "bench-prefix", "bin")] + [os.path.join(tdir, t, "release") for t in TARGETS]
    default_ours = next((d for d in dirs if os.path.exists(os.path.join(d, "s6-svscan"))), dirs[0])
    ap = argparse.ArgumentParser(description="Compare our s6-compatible suite with real s6 (see bench/README.md).")
    ap.add_argument("--quick", action="store_true", help="small N, few repetitions (about 2 minutes)")
    ap.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--ours", default=default_ours, help="our bindir (default: %(default)s)")
    ap.add_argument("--s6", default="/usr/bin", help="s6's bindir (default: %(default)s)")
    ap.add_argument("--static-s6", default=os.environ.get("S6RS_STATIC_S6_BINDIR", ""),
                    help="bindir of skarnet's static musl s6 2.15.1, the third build (default: $S6RS_STATIC_S6_BINDIR;"
                         " without it the third column is skipped)")
    ap.add_argument("--reps", type=int, default=0, help="override the repetitions of every scenario")
    ap.add_argument("--memory-n", type=parse_ns, default=None, help="service counts for memory (default 1,100,1000)")
    ap.add_argument("--scale-n", type=parse_ns, default=None, help="service counts for scale (default 100,1000,10000)")
    ap.add_argument("--idle-n", type=int, default=100)
    ap.add_argument("--idle-seconds", type=float, default=0)
    ap.add_argument("--crash-seconds", type=float, default=0)
    ap.add_argument("--rescan-n", type=int, default=100, help="services under svscan for rescan (default 100)")
    ap.add_argument("--rescans", type=int, default=0, help="s6-svscanctl -a calls per repetition (default 100, 20 quick)")
    ap.add_argument("--calls", type=int, default=0,
                    help="interleaved timed calls per side and program in instructions (default 200, 20 quick)")
    ap.add_argument("--scratch-base", default="/tmp",
                    help="where the scratch scan directories go (default: %(default)s; a tmpfs such as /dev/shm "
                         "makes writing and removing thousands of service dirs much faster)")
    ap.add_argument("--results", default=os.path.join(HERE, "results"), help="where the JSON and Markdown go")
    ap.add_argument("--keep-logs", default=None, help="copy every instance's svscan log into this directory")
    args = ap.parse_args()
    if args.memory_n is None:
        args.memory_n = [1, 100] if args.quick else [1, 100, 1000]
    if args.scale_n is None:
        args.scale_n = [100, 1000] if args.quick else [100, 1000, 10000]
    only = [s.strip() for s in args.only.split(",") if s.strip()] or SCENARIOS
    bad = [s for s in only if s not in SCENARIOS]
    if bad:
        ap.error("unknown scenario(s): %s (known: %s)" % (", ".join(bad), ", ".join(SCENARIOS)))
    if args.keep_logs:
        os.makedirs(args.keep_logs, exist_ok=True)

    if not args.static_s6:
        log("note: no --static-s6 DIR (nor S6RS_STATIC_S6_BINDIR): skarnet's static s6 column skipped")
    for side, d in (("ours", args.ours), ("s6", args.s6), ("static", args.static_s6)):
        if d and not os.path.isdir(d):
            log("warning: %s bindir %s does not exist: its scenarios will be n/a" % (side, d))

    stopping = []

    def on_term(signum, frame):
        # Only the first signal interrupts; later ones must not break the cleanup.
        if stopping:
            log("signal %d: still cleaning up, please wait" % signum)
            return
        stopping.append(signum)
        log("signal %d: stopping, tearing everything down" % signum)
        raise Interrupted("signal %d" % signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_term)

    info = machine_info()
    info["scratch_fs"] = fs_type(args.scratch_base)
    started = datetime.datetime.now(datetime.timezone.utc)
    bench = Bench(args)
    if not bench.reaper.subreaper:
        log("warning: could not become a child subreaper; orphans go to pid 1")
    log("run %s: %s scratch=%s scenarios=%s%s" % (RUN_ID, " ".join(
        "%s=%s" % (s, bench.suites[s].bindir) for s in bench.sides), bench.scratch, ",".join(only),
        " (quick)" if args.quick else ""))
    t0 = time.monotonic()
    interrupted = None
    try:
        bench.run(only)
    except (KeyboardInterrupt, Interrupted) as e:
        interrupted = str(e) or "interrupted"
    finally:
        final, scratch_left = bench.cleanup()
    info["loadavg_end"] = read_file("/proc/loadavg").strip()
    elapsed = time.monotonic() - t0

    table = markdown(bench.results)
    clean = not final and not scratch_left
    header = ["## Results %s" % started.strftime("%Y-%m-%d %H:%M UTC"), "",
              "Machine: %s, %s CPUs, kernel %s; load average at start %s, at end %s. Ours %s (%s); Debian s6 "
              "package %s (%s); %s." % (
                  info["cpu_model"], info["nproc"], info["kernel"], info["loadavg_start"].split()[0],
                  info["loadavg_end"].split()[0], info["ours_git"], bench.suites["ours"].bindir, info["s6_package"],
                  bench.suites["s6"].bindir, "static s6: %s" % bench.suites["static"].bindir if "static" in bench.suites
                  else "no static s6 (--static-s6)"),
              "Mode: %s; %.0f s; scratch directories in %s (%s)." % (
                  "--quick" if args.quick else "full", elapsed, args.scratch_base, info["scratch_fs"]), ""]
    footer = ["", "Processes killed after an svscan had exited: %d. Final /proc scan: %s." % (
        len(bench.leaks), "no process of the run left, scratch removed" if clean else
        "LEFT: %r, scratch left: %s" % (final, scratch_left))]
    md = "\n".join(header) + "\n" + table + "\n" + "\n".join(footer) + "\n"
    print(md)

    os.makedirs(args.results, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    base = os.path.join(args.results, "%s-%s%s" % (stamp, info["hostname"], "-quick" if args.quick else ""))
    rows = []
    for r in bench.results.rows.values():
        row = {"scenario": r["scenario"], "metric": r["metric"], "unit": r["unit"], "target": r["target"],
               "target11": r["target11"], "na": r["na"], "text": r["text"]}
        for s in bench.sides:
            row[s] = r[s]
            row[s + "_summary"] = summarize(r[s])
        if not r["text"]:
            row["ratio"] = ratio_of(r)[0]  # ours / Debian s6
            if "static" in bench.sides:
                row["ratio_static"] = ratio_of(r, "static")[0]
        rows.append(row)
    doc = {"date": started.isoformat(), "elapsed_s": elapsed, "run_id": RUN_ID, "machine": info,
           "args": vars(args), "scenarios": only, "ours_bindir": bench.suites["ours"].bindir,
           "s6_bindir": bench.suites["s6"].bindir,
           "static_s6_bindir": bench.suites["static"].bindir if "static" in bench.suites else None,
           "interrupted": interrupted, "leaks": bench.leaks,
           "final_scan_left": final, "scratch_left": scratch_left, "results": rows}
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1, default=str)
    with open(base + ".md", "w") as f:
        f.write(md)
    log("raw results: %s.json (table: %s.md)" % (base, base))
    if interrupted:
        return 130
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
