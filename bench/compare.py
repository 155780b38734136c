#!/usr/bin/python3
"""bench/compare.py: pacto replay against fail2ban, SSHGuard and CrowdSec on
the same generated auth logs, measured the same way, scored against the
generator's ground truth.

Why: the design brief claims pacto replaces these three; this puts numbers
on it (speed, memory, and whether each one sanctions the right addresses).
Guarantees: every tool reads the same file, pinned to one core
(CPU 0; pacto also once on every core, its default), timed by wait4()'s
rusage (user, sys), /usr/bin/time (peak RSS) and a monotonic clock (wall:
see Run). pacto on one core and SSHGuard's
parser, the pair the speed target is about, are timed --rounds times in
turns (pacto, SSHGuard, pacto, ...), and each one's fastest run is shown,
with every round's ratio beside: this machine's speed moves by up to 1.7x
within minutes, and two single runs seconds apart can land in different
minutes. The others run once (ratios against them come from one run); a
tool past --timeout is reported as "did not finish", never extrapolated; no network is used (fail2ban without DNS,
CrowdSec without its Central API, its hub items from the Debian package).
Run through bench/compare, which installs the packages and builds pacto.

How each tool's sanctions are obtained (the doc repeats this):
- pacto: `pacto replay --json --threads 1`, one object per sanction; then
  `pacto replay --json` on every CPU (its default), reported beside.
- fail2ban: `fail2ban-regex -o row` gives every failure (address, time);
  the jail's decision is replayed here with fail2ban 1.0.2's own rule
  (FailTicket.adjustTime, maxretry 5, findtime 600 s, bantime 600 s,
  loopback ignored as ignoreself does).
- SSHGuard: sshg-parser's attacks (address, weight) replayed through
  sshg-blocker's rule (threshold 30, detection time 1800 s, block 120 s x
  1.5 per repeat, 127.0.0.0/8 and ::1 whitelisted). sshg-blocker itself
  takes time from the wall clock, so a replay through it would see the
  whole log at one instant; the log time of each attack is recovered by a
  second, untimed parser run with a marker line before each new timestamp.
- CrowdSec: `crowdsec -dsn file://LOG -type syslog` (time-machine mode)
  with the packaged sshd parser and ssh-bf/ssh-slow-bf scenarios; every
  "Ip X performed 'S'" overflow is a sanction.
"""
import argparse
import datetime
import ipaddress
import os
import re
import shutil
import socket
import signal
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SSHG_PARSER = "/usr/libexec/sshguard/sshg-parser"
F2B_FILTER = "/etc/fail2ban/filter.d/sshd.conf"
CS_HUB = "/usr/share/crowdsec/hub"
START = "2026-06-01T00:00:00Z"	# no year boundary: syslog stamps carry no year
SEED = 1
MARK_BEGIN = "<!-- compare:begin -->"
MARK_END = "<!-- compare:end -->"
MONTHS = {m: i + 1 for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
SENTINEL_ADDR = "198.18.0.1"	# benchmark range: never written by the generator

# Classes of gen_authlog sources, by what sanctioning them means.
USERS = {"benign", "health", "loopback"}
FRAMED = {"victim"}


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw).stdout.strip()


# ---- measuring ---------------------------------------------------------------

class Run:
    """One timed run: wall, user, sys (s), peak RSS (KB), exit status;
    stdout and stderr go to OUT, STDIN (a file name) to its input. This
    process starts `/usr/bin/time -f %M COMMAND` directly (posix_spawn, in
    its own process group), pinned beforehand to the run's CPUs so that
    both inherit them. CPU seconds come from wait4()'s rusage here
    (microseconds, where /usr/bin/time prints 10 ms steps; they include
    /usr/bin/time's own few hundred microseconds), the wall time from a
    monotonic clock around spawn and wait4, and peak RSS from
    /usr/bin/time: a child of this Python process would report Python's
    own RSS as its peak (the kernel keeps the parent's at exec), a child
    of /usr/bin/time starts small. Until session 15 the chain was
    /usr/bin/time taskset timeout COMMAND: taskset's and timeout's own
    starts cost 3-6 ms more than `true` alone, 15-30% of pacto's run at
    100k lines, and belong to no tool. What is left is measured: see
    floor(). Past TIMEOUT the tool gets SIGTERM (its group SIGKILL 5 s
    later), as under timeout(1), and the run counts as not finished."""

    cpu = "0"	# the core every tool is pinned to (--cpu)

    def __init__(self, name, cmd, out, timeout, env=None, stdin=None, cpus=None):
        self.name, self.cmd, self.out, self.timeout = name, cmd, out, timeout
        self.stdin = stdin
        self.cpus = cpus or Run.cpu
        self.timed_out = False
        tfile = out + ".time"
        argv = ["/usr/bin/time", "-f", "%M", "-o", tfile] + cmd
        with open(out, "wb") as f, open(stdin or "/dev/null", "rb") as fin:
            status, ru = self._spawn_and_wait(argv, fin, f, env or dict(os.environ), timeout)
        self.rc = os.waitstatus_to_exitcode(status)
        self.user, self.sys = ru.ru_utime, ru.ru_stime
        self.rss_kb = peak_rss_kb(tfile)
        self.finished = not self.timed_out

    def _spawn_and_wait(self, cmd, fin, fout, env, timeout):
        exe = shutil.which(cmd[0]) or cmd[0]
        actions = [(os.POSIX_SPAWN_DUP2, fin.fileno(), 0), (os.POSIX_SPAWN_DUP2, fout.fileno(), 1),
                   (os.POSIX_SPAWN_DUP2, fout.fileno(), 2)]
        mine = os.sched_getaffinity(0)
        os.sched_setaffinity(0, cpu_set(self.cpus))
        try:
            start = time.perf_counter()
            pid = os.posix_spawn(exe, cmd, env, file_actions=actions, setpgroup=0)
        finally:
            os.sched_setaffinity(0, mine)
        self._lock, self._exited = threading.Lock(), threading.Event()
        stop = threading.Timer(timeout, self._stop, (pid,))
        stop.daemon = True
        stop.start()
        try:
            # Waited for without reaping first: until _exited is set, pid
            # is still this child's, so _stop can never signal a reused one.
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            self.wall = time.perf_counter() - start
        finally:
            with self._lock:
                self._exited.set()
            stop.cancel()
            # Whatever the tool left running (its group outlives it while
            # the leader is not reaped) would take the CPU from the next
            # run; and on ^C (the tool is not in the terminal's group),
            # the tool itself.
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status, ru = os.wait4(pid, 0)
        return status, ru

    def _stop(self, pid):
        """SIGTERM to the tool (/usr/bin/time's child), so that
        /usr/bin/time still reports its peak RSS; SIGKILL to the whole
        group 5 s later if it is still there."""
        with self._lock:
            if self._exited.is_set():
                return
            self.timed_out = True
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    for child in f.read().split():
                        os.kill(int(child), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        if self._exited.wait(5):
            return
        with self._lock:
            if not self._exited.is_set():
                os.killpg(pid, signal.SIGKILL)

    def ok(self):
        return self.finished and self.rc == 0

    def line(self):
        pin = f"taskset -c {self.cpus} " if self.cpus != Run.cpu else ""
        return pin + " ".join(self.cmd) + (" < " + self.stdin if self.stdin else "")


def peak_rss_kb(tfile):
    """/usr/bin/time's %M; 0 when it wrote none (killed before it could)."""
    try:
        with open(tfile) as f:
            return int(f.read().strip().splitlines()[-1].split()[-1])
    except (OSError, ValueError, IndexError):
        return 0


def cpu_set(spec):
    """taskset -c's list form ("0", "0-1", "0,2") as a set of CPUs."""
    cpus = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def floor(work, runs=7):
    """What the harness itself costs a run: the fastest of RUNS runs of
    `true` (wall s, CPU s), measured exactly as the tools are."""
    rs = [Run("true", ["true"], f"{work}/true.out", 10) for _ in range(runs)]
    best = min(rs, key=lambda r: r.wall)
    return best.wall, best.user + best.sys


# ---- addresses -----------------------------------------------------------------

def key_of(text):
    """The truth file's key for an address a tool printed: IPv4 as is,
    IPv4-mapped IPv6 as IPv4, other IPv6 as its /64, ::1 as itself."""
    if "/" in text:	# pacto's own IPv6 keys
        try:
            return ipaddress.ip_network(text, strict=False).compressed
        except ValueError:
            return "?" + text
    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        return "?" + text
    if a.version == 6 and a.ipv4_mapped:
        return str(a.ipv4_mapped)
    if a.version == 6 and not a.is_loopback:
        return ipaddress.ip_network(text + "/64", strict=False).compressed
    return str(a)


def is_loopback(text):
    try:
        a = ipaddress.ip_address(text)
    except ValueError:
        return False
    return a.is_loopback or (a.version == 6 and a.ipv4_mapped is not None
                             and a.ipv4_mapped.is_loopback)


class Stamp:
    """Syslog "Mon dd HH:MM:SS" to UTC seconds, in the corpus's year."""

    def __init__(self, year):
        self.year, self.days = year, {}

    def secs(self, line):
        day = line[:6]
        base = self.days.get(day)
        if base is None:
            d = datetime.datetime(self.year, MONTHS[line[:3]], int(line[4:6]),
                                  tzinfo=datetime.timezone.utc)
            base = self.days[day] = int(d.timestamp())
        return base + int(line[7:9]) * 3600 + int(line[10:12]) * 60 + int(line[13:15])


# ---- each tool's sanctions --------------------------------------------------------

def pacto_sanctions(path):
    keys = set()
    with open(path) as f:
        for line in f:
            m = re.search(r'"address":"([^"]+)"', line)
            if m:
                keys.add(m.group(1))
    return keys


def f2b_sanctions(path, maxretry=5, findtime=600, bantime=600):
    """fail2ban 1.0.2's jail on the failures fail2ban-regex printed, in log
    order: FailTicket.adjustTime scales the count down when the ticket spans
    more than findtime; a ticket idle for findtime is dropped (cleanup); a
    ban removes the ticket, failures of a banned address are not counted."""
    row = re.compile(r"^\['([^']+)',\s+([0-9.]+),")
    tickets, banned_until, out = {}, {}, set()
    with open(path) as f:
        for line in f:
            m = row.match(line)
            if not m or is_loopback(m.group(1)):
                continue
            ip, t = m.group(1), float(m.group(2))
            if banned_until.get(ip, -1) > t:
                continue
            tk = tickets.get(ip)
            if tk is None or tk[2] <= t - findtime:
                tk = tickets[ip] = [t, 0, t]	# first, retry, last
            elif t > tk[2]:
                if tk[0] < t - findtime:
                    tk[1] = int(round(tk[1] / float(t - tk[0]) * findtime))
                    tk[0] = t - findtime
                tk[2] = t
            tk[1] += 1
            if tk[1] >= maxretry:
                out.add(ip)
                banned_until[ip] = t + bantime
                del tickets[ip]
    return out


def sshg_marked_input(log, marked, stamp):
    """LOG with a marker attack before each new timestamp; returns the
    stamps in order, so the n-th marker in the parser's output is the n-th."""
    times, prev = [], None
    with open(log, errors="replace") as f, open(marked, "w") as out:
        for line in f:
            head = line[:15]
            if head != prev:
                prev = head
                times.append(stamp.secs(line))
                out.write("%s web1 sshd[1]: Invalid user pactomark from %s port 18618\n"
                          % (head, SENTINEL_ADDR))
            out.write(line)
    return times


def sshg_sanctions(attacks, times, threshold=30, detection=1800, block=120, mult=1.5):
    """sshg-blocker 2.4's rule on the parser's attacks at their log times:
    an address is blocked when its weights since its first attack reach the
    threshold; its limbo entry expires detection seconds after that first
    attack; attacks while blocked are ignored; loopback is whitelisted."""
    limbo, blocked, offences, out = {}, {}, {}, set()
    idx, now = -1, 0
    with open(attacks) as f:
        for line in f:
            p = line.split()
            if len(p) != 4:
                continue
            addr, weight = p[1], int(p[3])
            if addr == SENTINEL_ADDR:
                idx += 1
                now = times[idx]
                continue
            if is_loopback(addr) or blocked.get(addr, -1) > now:
                continue
            ent = limbo.get(addr)
            if ent is None or now - ent[0] > detection:
                ent = limbo[addr] = [now, 0]
            ent[1] += weight
            if ent[1] >= threshold:
                out.add(addr)
                n = offences[addr] = offences.get(addr, 0) + 1
                blocked[addr] = now + block * mult ** (n - 1)
                del limbo[addr]
    return out


def cs_sanctions(path):
    pat = re.compile(r"Ip (\S+) performed '")
    out = set()
    with open(path, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if m:
                out.add(m.group(1))
    return out


# ---- CrowdSec's throwaway configuration ---------------------------------------------

CS_ITEMS = [
    "parsers/s00-raw/crowdsecurity/syslog-logs.yaml",
    "parsers/s01-parse/crowdsecurity/sshd-logs.yaml",
    "parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml",
    "parsers/s02-enrich/crowdsecurity/whitelists.yaml",
    "scenarios/crowdsecurity/ssh-bf.yaml",
    "scenarios/crowdsecurity/ssh-slow-bf.yaml",
]


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now, so that two
    runs (or a machine's own CrowdSec on 8080) do not collide."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cs_setup(d):
    """A config dir holding only the sshd collection's items, copied from
    the package's offline hub, a fresh SQLite database, and a local API on
    127.0.0.1 (the 1.4.6 agent refuses to run without one, even with
    -dsn); no Central API, no Prometheus."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d + "/data")
    for item in CS_ITEMS:
        parts = item.split("/")
        dest = os.path.join(d, *parts[:-2], parts[-1])	# vendor dropped, as cscli does
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(os.path.join(CS_HUB, item), dest)
    shutil.copytree("/etc/crowdsec/patterns", d + "/patterns")
    os.symlink(CS_HUB, d + "/hub")
    with open(d + "/simulation.yaml", "w") as f:
        f.write("simulation: off\n")
    open(d + "/acquis.yaml", "w").close()
    shutil.copy("/etc/crowdsec/profiles.yaml", d + "/profiles.yaml")
    with open(d + "/config.yaml", "w") as f:
        f.write(f"""common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: .
config_paths:
  config_dir: {d}/
  data_dir: {d}/data/
  simulation_path: {d}/simulation.yaml
  hub_dir: {d}/hub/
  index_path: {d}/hub/.index.json
crowdsec_service:
  acquisition_path: {d}/acquis.yaml
  parser_routines: 1
db_config:
  type: sqlite
  db_path: {d}/data/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: {d}/lapi.yaml
  server:
    listen_uri: 127.0.0.1:{free_port()}
    profiles_path: {d}/profiles.yaml
prometheus:
  enabled: false
""")
    subprocess.run(["cscli", "-c", d + "/config.yaml", "machines", "add", "bench",
                    "--password", "pacto-bench-only", "-f", d + "/lapi.yaml"],
                   check=True, capture_output=True)
    return d + "/config.yaml"


# ---- scoring ---------------------------------------------------------------------

class Truth:
    def __init__(self, truth, classes):
        self.want, self.cls = set(), {}
        with open(truth) as f:
            for line in f:
                if not line.startswith("#"):
                    self.want.add(line.split()[0])
        with open(classes) as f:
            for line in f:
                k, c = line.split()
                self.cls.setdefault(k, c)

    def score(self, addrs):
        keys = {key_of(a) for a in addrs}
        s = {"caught": len(keys & self.want), "users": 0, "framed": 0, "below": 0, "other": 0}
        for k in keys - self.want:
            c = self.cls.get(k)
            if c is None:
                s["other"] += 1
            elif c in USERS:
                s["users"] += 1
            elif c in FRAMED:
                s["framed"] += 1
            else:
                s["below"] += 1
        s["sanctioned"] = len(addrs)
        missed = {}
        for k in self.want - keys:
            missed[self.cls.get(k, "?")] = missed.get(self.cls.get(k, "?"), 0) + 1
        s["missed"] = ", ".join(f"{c} {n}" for c, n in sorted(missed.items())) or "none"
        return s


# ---- one corpus ---------------------------------------------------------------------

def measure(size, work, args, pacto, gen):
    log, truth, classes = (f"{work}/auth-{size}.log", f"{work}/truth-{size}.txt",
                           f"{work}/classes-{size}.txt")
    subprocess.run([gen, "--lines", str(size), "--seed", str(SEED), "--start", START,
                    "--out", log, "--truth", truth, "--classes", classes],
                   check=True, stderr=subprocess.DEVNULL)
    lines = int(sh(f"wc -l < {log}"))
    sh(f"cat {log} > /dev/null")	# all read from the page cache
    t = Truth(truth, classes)
    load = "\n".join(l[:160] for l in sh("ps aux --sort=-%cpu | head -6").splitlines())
    floor_wall, floor_cpu = floor(work)
    res = []

    # One CPU for every tool: pacto's matching threads would only take turns on it.
    # pacto and SSHGuard's parser in turns, the fastest of each kept.
    pacto_runs, sshg_runs = [], []
    for i in range(args.rounds):	# each round its own output: the fastest run's is scored
        pacto_runs.append(Run("pacto replay", [pacto, "replay", "--json", "--threads", "1", log],
                              f"{work}/pacto-{i + 1}.out", args.timeout, env=dict(os.environ, TZ="UTC")))
        sshg_runs.append(Run("SSHGuard sshg-parser", [SSHG_PARSER], f"{work}/sshg-{i + 1}.out",
                             args.timeout, stdin=log))
    r = fastest(pacto_runs)
    res.append((r, pacto_sanctions(r.out) if r.ok() else None))
    # Then as it runs by default: matching on every CPU, counting in one.
    ncpu = os.cpu_count() or 1
    r = Run(f"pacto replay, {ncpu} CPUs", [pacto, "replay", "--json", log], f"{work}/pacto-all.out",
            args.timeout, env=dict(os.environ, TZ="UTC"), cpus=f"0-{ncpu - 1}")
    res.append((r, pacto_sanctions(r.out) if r.ok() else None))

    r = fastest(sshg_runs)
    sanc = None
    if r.ok():
        times = sshg_marked_input(log, f"{work}/marked.log", Stamp(int(START[:4])))
        with open(f"{work}/marked.log") as fin, open(f"{work}/sshg-marked.out", "w") as fo:
            subprocess.run([SSHG_PARSER], stdin=fin, stdout=fo, check=True)
        sanc = sshg_sanctions(f"{work}/sshg-marked.out", times)
        os.unlink(f"{work}/marked.log")
    res.append((r, sanc))

    r = Run("fail2ban-regex", ["fail2ban-regex", "--usedns=no", "-o", "row", log, F2B_FILTER],
            f"{work}/f2b.out", args.timeout)
    res.append((r, f2b_sanctions(r.out) if r.ok() else None))

    cfg = cs_setup(f"{work}/crowdsec")
    r = Run("CrowdSec", ["crowdsec", "-c", cfg, "-dsn", "file://" + log, "-type", "syslog",
                         "-no-capi"], f"{work}/cs.out", args.timeout)
    res.append((r, cs_sanctions(r.out) if r.ok() else None))
    if not args.keep:
        os.unlink(log)
    return {"size": size, "lines": lines, "want": len(t.want), "load": load,
            "floor": (floor_wall, floor_cpu),
            "rounds": list(zip(pacto_runs, sshg_runs)),
            "results": [(r, t.score(s) if s is not None else None) for r, s in res]}


def fastest(runs):
    """The run with the least wall time among those that finished with
    status 0; else the first (which says how it failed)."""
    ok = [r for r in runs if r.ok()]
    return min(ok, key=lambda r: r.wall) if ok else runs[0]


# ---- reporting ---------------------------------------------------------------------

def fmt_rate(r, lines):
    if not r.finished:
        return f"did not finish in {r.timeout} s"
    if r.rc != 0:
        return f"failed (exit {r.rc})"
    return f"{lines / r.wall:,.0f}" if r.wall > 0 else "-"


def fmt_acc(s, want):
    if s is None:
        return ["-"] * 6
    return [f"{s['caught']}/{want}", s["missed"], str(s["users"]), str(s["framed"]),
            str(s["below"]), str(s["other"])]


HEAD = ["tool", "lines/s (wall)", "wall s", "CPU s", "lines per CPU s", "peak RSS MB",
        "pacto faster (wall)", "pacto faster (CPU)", "aggressors caught",
        "missed, by class", "users sanctioned",
        "framed sanctioned", "below-rule sanctioned", "not a source"]


def ratio(r, pacto, mine, theirs):
    """How many times pacto's figure beats r's, or a bound if r timed out."""
    if r.name.startswith("pacto") or not pacto.finished or mine <= 0:
        return "-"
    if not r.finished:
        return f"> {theirs / mine:.0f}x"
    return f"{theirs / mine:.1f}x" if r.rc == 0 else "-"


def all_cpus_note(m):
    """pacto's default run (every CPU) against SSHGuard's parser, wall clock."""
    runs = {r.name: r for r, _ in m["results"]}
    allc = next((r for n, r in runs.items() if n.startswith("pacto replay,")), None)
    sshg = runs.get("SSHGuard sshg-parser")
    if not (allc and sshg and allc.ok() and sshg.ok() and allc.wall > 0):
        return ""
    return (f"pacto on every CPU (its default), wall clock: {sshg.wall / allc.wall:.1f}x SSHGuard's"
            f" parser; its CPU seconds: {allc.user + allc.sys:.3f}. The ratios in the table are"
            " those of pacto pinned to one CPU, as every other tool.")


def floor_note(m):
    wall, cpu = m["floor"]
    return (f"The harness's floor for this size (`true`, fastest of 7, measured as the tools):"
            f" {wall * 1000:.2f} ms wall, {cpu * 1000:.2f} ms CPU.")


def rounds_note(m):
    """Every round's pacto (one CPU) and SSHGuard timings, and their ratio;
    a round where either failed says so."""
    def one(p, g):
        if not (p.ok() and g.ok() and p.wall > 0):
            bad = [f"{r.name} {fmt_rate(r, m['lines'])}" for r in (p, g) if not r.ok()]
            return "failed (" + ", ".join(bad) + ")"
        return f"{g.wall:.3f} / {p.wall:.3f} s = {g.wall / p.wall:.1f}x"
    each = ", ".join(one(p, g) for p, g in m["rounds"])
    slow = slowest_pacto(m)
    return (f"pacto on one CPU against SSHGuard's parser, round by round (SSHGuard / pacto, wall):"
            f" {each}. The table shows the fastest run of each; the ratios against the tools"
            f" that ran once use pacto's slowest round ({slow.wall:.3f} s wall,"
            f" {slow.user + slow.sys:.3f} s CPU).")


def slowest_pacto(m):
    """pacto's slowest round that finished, the base of the ratios against
    tools that ran once: its fastest would favour it against them."""
    ok = [p for p, _ in m["rounds"] if p.ok()]
    return max(ok, key=lambda r: r.wall) if ok else m["results"][0][0]


def rows(m):
    fastest_p, slowest_p = m["results"][0][0], slowest_pacto(m)
    rounds = {g.name for _, g in m["rounds"]}
    out = []
    for r, s in m["results"]:
        p = fastest_p if r.name in rounds else slowest_p
        cpu = r.user + r.sys
        per_cpu = f"{m['lines'] / cpu:,.0f}" if r.finished and r.rc == 0 and cpu > 0 else "-"
        out.append([r.name, fmt_rate(r, m["lines"]), f"{r.wall:.3f}", f"{cpu:.3f}", per_cpu,
                    f"{r.rss_kb / 1024:.1f}", ratio(r, p, p.wall, r.wall),
                    ratio(r, p, p.user + p.sys, cpu)] + fmt_acc(s, m["want"]))
    return out


def text_table(m):
    t = [HEAD] + rows(m)
    w = [max(len(r[i]) for r in t) for i in range(len(HEAD))]
    return "\n".join("  ".join(c.ljust(w[i]) for i, c in enumerate(r)) for r in t)


def md_table(m):
    t = [HEAD, ["---"] * len(HEAD)] + rows(m)
    return "\n".join("| " + " | ".join(r) + " |" for r in t)


def machine():
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    return (f"{sh('nproc')} CPUs ({cpu}), kernel {sh('uname -r')}, Debian "
            f"{sh('cat /etc/debian_version')}, load average {load} at start")


def build_flags(binary):
    """How the binary was compiled, as its debug info says (the Makefile's
    default: gcc -O3 with link-time optimisation)."""
    prod = sh(f"readelf --debug-dump=info {binary} 2>/dev/null | grep -m1 DW_AT_producer")
    levels = re.findall(r" (-O[0-3sg]?)\b", prod)
    if not levels:
        return "compiler flags unknown"
    return f"gcc {levels[-1]}" + (" -flto" if "GIMPLE" in prod else "")


def versions(pacto):
    def pkg(p):
        return sh(f"dpkg-query -W -f '${{Version}}' {p}")
    rev = sh(f"git -C {TOP} rev-parse --short HEAD") or "unknown"
    dirty = " + uncommitted changes" if sh(f"git -C {TOP} status --porcelain -- src bench") else ""
    return [f"pacto {rev}{dirty} ({build_flags(pacto)}, `{pacto}`)",
            f"fail2ban {pkg('fail2ban')} (python3 {pkg('python3')})",
            f"sshguard {pkg('sshguard')}", f"crowdsec {pkg('crowdsec')}"]


def doc_section(ms, args, vers, started):
    L = [MARK_BEGIN, "",
         "<!-- generated by bench/compare: rerunning it replaces everything between these markers -->",
         "",
         f"Run of {started} (UTC), `bench/compare --sizes {','.join(str(m['size']) for m in ms)}"
         f" --timeout {args.timeout} --rounds {args.rounds}`.", "",
         f"- machine: {machine()}. **The machine is shared** with other engineers' builds"
         f" and tests: pacto on one CPU and SSHGuard's parser ran {args.rounds} times in turns,"
         " each one's fastest run shown (every round is listed under the table); every other"
         " figure is one run (all tools of a size run back to back), and the busiest processes"
         " just before each size are listed below.",
         "- versions: " + "; ".join(vers) + ".",
         f"- corpora: `build/gen_authlog --lines N --seed {SEED} --start {START} --out LOG"
         " --truth TRUTH --classes CLASSES` (classic syslog stamps; a start in June keeps the"
         " year out of the picture, since such stamps carry none).",
         f"- every command ran pinned to CPU {Run.cpu} as `/usr/bin/time -f %M COMMAND`, started"
         " by the script itself (posix_spawn) with the log in the page cache; wall time from a"
         " monotonic clock around the start and wait4(), CPU seconds from wait4()'s rusage"
         " (microseconds), peak RSS from `/usr/bin/time`. A process that does nothing (`true`),"
         " measured the same way before each size, gives the harness's floor, in every tool's"
         " wall time (under each table). Until session 15 each command ran under"
         " `/usr/bin/time taskset timeout`, whose starts added 3-6 ms to every run (15-30% of"
         " pacto's at 100k lines), and CPU seconds had 10 ms steps.", ""]
    for m in ms:
        L += [f"### {m['lines']:,} lines ({m['want']} expected aggressors)", "", md_table(m), "",
              floor_note(m), "",
              rounds_note(m), "", all_cpus_note(m), "", "Commands:", "", "```"]
        L += [r.line() for r, _ in m["results"]]
        L += ["```", "", "Busiest processes just before (`ps aux --sort=-%cpu | head -6`):", "",
              "```", m["load"], "```", ""]
    L += [MARK_END]
    return "\n".join(L) + "\n"


def write_doc(path, section):
    text = open(path).read() if os.path.exists(path) else "# Performance\n"
    if MARK_BEGIN in text and MARK_END in text:
        a, b = text.index(MARK_BEGIN), text.index(MARK_END) + len(MARK_END)
        text = text[:a] + section.rstrip("\n") + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000,10000000")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per tool and size")
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--work", default="/tmp/pacto-compare")
    ap.add_argument("--doc", default=os.path.join(TOP, "docs/performance.md"),
                    help="file whose compare section is replaced ('-' for none)")
    ap.add_argument("--keep", action="store_true", help="keep the generated logs")
    ap.add_argument("--cpu", default="0", help="the core to pin every tool to")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs of pacto (one CPU) and SSHGuard's parser, in turns")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    Run.cpu = args.cpu
    pacto, gen = os.path.join(args.build, "pacto"), os.path.join(args.build, "gen_authlog")
    os.makedirs(args.work, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    vers = versions(pacto)	# of what runs, not of the tree at the end
    ms = []
    for size in (int(x) for x in args.sizes.split(",")):
        print(f"compare: {size} lines ...", file=sys.stderr, flush=True)
        m = measure(size, args.work, args, pacto, gen)
        ms.append(m)
        print(f"\n{m['lines']:,} lines, {m['want']} expected aggressors\n" + text_table(m)
              + "\n" + floor_note(m) + "\n" + rounds_note(m) + "\n" + all_cpus_note(m), flush=True)
        if args.doc != "-":	# after each size, so a long run leaves what it has
            write_doc(args.doc, doc_section(ms, args, vers, started))


if __name__ == "__main__":
    main()
