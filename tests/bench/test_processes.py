"""The memory of a server's process tree, sampled from /proc: each process, its role, gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bench.processes import MemorySampler, process_tree, rss_kb

# a parent that starts two children which hold 20 MB and 40 MB, then waits
TREE = """
import subprocess, sys, time
code = "x = bytearray({mb} * 1024 * 1024); import time; time.sleep(60)"
kids = [subprocess.Popen([sys.executable, "-c", code.format(mb=mb)]) for mb in (20, 40)]
print(" ".join(str(k.pid) for k in kids), flush=True)
time.sleep(60)
"""


def test_the_sampler_follows_each_process_of_a_tree_until_it_ends() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        small, large = (int(x) for x in parent.stdout.readline().split())
        deadline = time.monotonic() + 60  # the children fill their memory: wait, do not time
        while (rss_kb(large) or 0) < 40 * 1024 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(process_tree(parent.pid)) == {parent.pid, small, large}
        sampler = MemorySampler(parent.pid, every_s=0.2)
        sampler.start()
        os.kill(small, signal.SIGKILL)  # a zombie until its parent reaps it: no memory
        while len(sampler.totals) < 3 and time.monotonic() < deadline:  # sampled in its thread
            time.sleep(0.05)
        sampler.stop()
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
    found = {p.pid: p for p in sampler.processes()}
    assert found[parent.pid].role == "parent"
    assert found[large].max_kb >= 40 * 1024 and not found[large].gone
    assert found[small].gone
    assert sampler.totals[0] >= found[small].start_kb + found[large].start_kb
    assert len(sampler.totals) >= 3
