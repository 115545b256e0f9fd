"""The master's descendants, from /proc (Linux): what the watchdog ends when the supervisor has gone.

The supervisor starts the master as a child subreaper, so a descendant whose parent exits is adopted by the master
instead of init, and a walk down from the master finds every process the server started, in its process group or in
a session of its own. Elsewhere (no /proc) the walk finds nothing and the watchdog ends the process group only.
"""

import atexit
import os
import signal


def _stat(pid):
    """(ppid, pgrp, start ticks, state) of ``pid``, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[2]), int(fields[19]), fields[0]
    except (OSError, IndexError, ValueError):
        return None


def _children(pid):
    """The children of every thread of ``pid`` (a thread's children are listed under its own task)."""
    try:
        threads = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return []
    children = []
    for tid in threads:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid), "rb") as listed:
                children.extend(int(field) for field in listed.read().split())
        except FileNotFoundError:
            if os.path.isdir("/proc/%d/task/%s" % (pid, tid)):
                return _children_by_scan(pid)  # a kernel without the children files
        except (OSError, ValueError):
            continue
    return children


def _children_by_scan(pid):
    children = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None and stat[0] == pid:
                children.append(int(name))
    return children


def descendants(root=None):
    """[(pid, pgrp, start ticks)] of the living descendants of ``root`` (this process), none started before it."""
    root = os.getpid() if root is None else root
    root_stat = _stat(root)
    if root_stat is None:
        return []
    found, seen, queue = [], {root}, [root]
    while queue:
        parent = queue.pop(0)
        for pid in _children(parent):
            if pid in seen:
                continue
            seen.add(pid)
            stat = _stat(pid)
            if stat is None or stat[0] != parent or stat[2] < root_stat[2]:
                continue
            queue.append(pid)
            if stat[3] not in (b"Z", b"X"):
                found.append((pid, stat[1], stat[2]))
    return found


def signal_descendants(sig, outside_group=None, skip=None, root=None):
    """Sends ``sig`` to every descendant of ``root`` (this process) (outside the process group ``outside_group`` when
    given), each checked by its start time just before; ``skip`` is a set of (pid, start) already signalled, updated.
    Never raises."""
    try:
        for pid, pgrp, start in descendants(root):
            if (outside_group is not None and pgrp == outside_group) or (skip is not None and (pid, start) in skip):
                continue
            stat = _stat(pid)
            if stat is None or stat[2] != start:
                continue  # gone, and its pid perhaps taken by another process
            try:
                os.kill(pid, sig)
            except OSError:
                continue
            if skip is not None:
                skip.add((pid, start))
    except Exception:
        pass


_exit_sweep = []


def end_all_at_exit():
    """When this process (the master) exits, SIGKILL whatever descendants it still has: once it is gone they would
    leave its tree, and the watchdog with them."""
    if _exit_sweep:
        return
    owner = os.getpid()
    _exit_sweep.append(owner)

    def sweep():
        if os.getpid() == owner:  # not in a forked child that inherited the registration
            signal_descendants(signal.SIGKILL)

    atexit.register(sweep)
