"""Wall time, CPU time and peak memory of a process tree, from ``/proc`` (Linux).

Spark's JVM is a child of the Python driver and the Python workers are children of the JVM, so
``resource.getrusage`` of one process misses most of the work. :class:`TreeSampler` samples the
whole tree rooted at this process every ``interval`` seconds in a background thread:

* **CPU**: for each live process ``utime + stime + cutime + cstime`` (the last two hold the CPU
  of its reaped children, e.g. finished Python workers), summed over the tree;
* **memory**: the sum of the tree's resident set sizes (``VmRSS``); the peak is the largest
  sample (a spike shorter than ``interval`` can be missed).

:meth:`TreeSampler.span` measures a named span (a stage): wall time, CPU seconds, peak RSS and
the load average at its start and end (the machine is shared: the load says how much).
"""

from __future__ import annotations

import os
import platform
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    out.extend(int(x) for x in fh.read().split())
            except OSError:
                continue
    except OSError:
        pass
    return out


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (live)."""
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(_children(pid))
    return pids


def _stat(pid: int) -> tuple[float, int] | None:
    """(cpu seconds incl. reaped children, rss bytes) of one process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    rss_pages = int(fields[21])
    return (utime + stime + cutime + cstime) / _TICKS, rss_pages * _PAGE


def tree_usage(root: int) -> tuple[float, int, int]:
    """(cpu seconds, rss bytes, processes) of the tree rooted at ``root``."""
    cpu, rss, n = 0.0, 0, 0
    for pid in tree_pids(root):
        st = _stat(pid)
        if st is None:
            continue
        cpu += st[0]
        rss += st[1]
        n += 1
    return cpu, rss, n


def loadavg() -> list[float]:
    with open("/proc/loadavg") as fh:
        return [float(x) for x in fh.read().split()[:3]]


@dataclass
class Span:
    """One measured span."""

    name: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    load_start: list[float] = field(default_factory=list)
    load_end: list[float] = field(default_factory=list)
    started_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TreeSampler:
    """Background sampler of this process tree (see module docstring)."""

    def __init__(self, interval: float = 0.2, root: int | None = None) -> None:
        self.interval = interval
        self.root = root or os.getpid()
        self._peak = 0
        self._overall_peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self.spans: list[Span] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> tuple[float, int]:
        cpu, rss, _n = tree_usage(self.root)
        with self._lock:
            self._peak = max(self._peak, rss)
            self._overall_peak = max(self._overall_peak, rss)
        return cpu, rss

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def overall_peak_mib(self) -> float:
        return round(self._overall_peak / 2**20, 1)

    @contextmanager
    def span(self, name: str, **extra: Any) -> Iterator[Span]:
        """Measure the block; the :class:`Span` is appended to :attr:`spans`."""
        span = Span(name=name, extra=dict(extra))
        span.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        span.load_start = loadavg()
        cpu0, rss0 = self.sample()
        with self._lock:
            self._peak = rss0
        t0 = time.perf_counter()
        try:
            yield span
        finally:
            span.wall_s = round(time.perf_counter() - t0, 3)
            cpu1, _ = self.sample()
            span.cpu_s = round(cpu1 - cpu0, 2)
            with self._lock:
                span.peak_rss_mib = round(self._peak / 2**20, 1)
            span.load_end = loadavg()
            self.spans.append(span)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        info["cpu_model"] = names[0] if names else "?"
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            mem = {ln.split(":")[0]: ln.split(":")[1].strip() for ln in fh}
        info["memory_total"] = mem.get("MemTotal")
    except OSError:
        pass
    try:
        info["java"] = (
            subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20)
            .stderr.splitlines()[0]
            .strip()
        )
    except Exception:  # noqa: BLE001
        info["java"] = "?"
    from importlib.metadata import version

    for pkg in ("pyspark", "delta-spark", "splink", "duckdb", "sqlglot", "pyarrow", "pandas"):
        try:
            info[pkg] = version(pkg)
        except Exception:  # noqa: BLE001
            info[pkg] = "?"
    return info
