"""Run a Python command and write its own peak resident set size to a file.

Usage: ``python benchmarks/_peak_rss.py PEAK_FILE -m MODULE ARGS...`` or
``python benchmarks/_peak_rss.py PEAK_FILE -c CODE ARGS...``.

Why not ``getrusage``: on Linux the ``ru_maxrss`` of a child started by
fork + exec keeps the high-water mark of the forked copy of its parent, so a
benchmark that holds a large array reports that array in every child. The
kernel's ``VmHWM`` (``/proc/self/status``) belongs to the address space the
exec created, so it counts this process's own memory only. Where there is no
``/proc`` the file is not written and the caller falls back to ``getrusage``.
"""

import atexit
import runpy
import sys


def _write_peak(path):
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return
    with open(path, "w", encoding="ascii") as out:
        out.write(str(int(line.split()[1]) * 1024))  # kB -> bytes


def main():
    peak_file, mode, target, *rest = sys.argv[1:]
    atexit.register(_write_peak, peak_file)
    if mode == "-m":
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    elif mode == "-c":
        sys.argv = ["-c", *rest]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
    else:
        raise SystemExit(f"usage: {sys.argv[0]} PEAK_FILE (-m MODULE | -c CODE) ARGS...")


if __name__ == "__main__":
    main()
