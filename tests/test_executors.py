"""Executors: workers never outlive the driver that started them."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

DRIVER = textwrap.dedent('''
    import os, sys, time
    from emobench import executors

    def job(i):
        # one write(2) below PIPE_BUF: lines of two workers never interleave
        os.write(1, f"worker {os.getpid()}\\n".encode())
        time.sleep(120)
        return i

    if __name__ == "__main__":
        kind = sys.argv[1]
        jobs = list(range(6))
        it = (executors.processes(job, jobs, 2) if kind == "processes"
              else executors.dask(job, jobs, "local", 2))
        for _ in it:
            pass
''')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie not yet reaped by init counts as gone: it runs nothing
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_workers_exit_when_the_driver_is_killed(tmp_path, kind):
    (tmp_path / "driver.py").write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, "driver.py", kind], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    workers = set()
    deadline = time.time() + 120
    while len(workers) < 2 and time.time() < deadline:
        line = proc.stdout.readline()
        workers.update(int(pid) for pid in re.findall(r"worker (\d+)", line))
    assert len(workers) == 2, "the two workers never started their jobs"
    assert all(_alive(p) for p in workers)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.1)
    orphans = [p for p in workers if _alive(p)]
    for p in orphans:  # never leave them behind, even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not orphans, f"workers {orphans} outlived their killed driver"


class _Job:
    def __init__(self, key, tuned_by="", folder=""):
        self.key, self.tuned_by, self.folder = key, tuned_by, folder


def _tune_or_reuse(job):
    # a later seed finds its fold's tuning finished, else it would tune again
    mark = os.path.join(job.folder, job.key)
    if job.tuned_by and not os.path.exists(os.path.join(job.folder, job.tuned_by)):
        return f"{job.key} tuned again"
    time.sleep(0.0 if job.tuned_by else 0.5)
    open(mark, "w").close()
    return job.key


def test_a_job_reusing_a_tuning_waits_for_it_and_others_go_first():
    from emobench.executors import Queue

    a, b, c = _Job("a"), _Job("b", tuned_by="a"), _Job("c")
    q = Queue([a, b, c])
    assert q.take() is a and q.take() is c  # b waits for a, c goes before it
    assert q.take() is None and q.take(force=True) is b  # nothing running: b rather than none
    q = Queue([a, b])
    assert q.take() is a and q.take() is None
    q.done(a)
    assert q.take() is b and q.take(force=True) is None
    # a dependency outside this run (in the store already, or skipped) holds nothing back
    q = Queue([b])
    assert q.take() is b


def test_a_job_needing_shared_work_waits_while_another_computes_it():
    from emobench.executors import Queue

    a, b, c = _Job("a"), _Job("b"), _Job("c")
    a.shared_work = b.shared_work = ("stage",)
    q = Queue([a, b, c])
    assert q.take() is a and q.take() is c  # b would only wait on a's lock: c first
    assert q.take() is None
    q.done(a)
    assert q.take() is b  # the stage is done: b reads it
    # a job whose shared work is done, or that comes first, is not held back
    q = Queue([b, c])
    assert q.take() is b and q.take() is c
    # nothing running: a waiting job starts rather than none
    q = Queue([a, b])
    assert q.take() is a and q.take() is None and q.take(force=True) is b


@pytest.mark.parametrize("kind", ["inline", "processes"])
def test_workers_start_a_later_seed_only_after_its_tuning(kind, tmp_path):
    from emobench import executors

    jobs = [_Job("s0", folder=str(tmp_path)), _Job("s1", "s0", str(tmp_path)),
            _Job("s2", "s0", str(tmp_path))]
    it = (executors.inline(_tune_or_reuse, jobs) if kind == "inline"
          else executors.processes(_tune_or_reuse, jobs, 2))
    assert sorted(it) == ["s0", "s1", "s2"]
