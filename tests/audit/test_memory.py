"""Memory follows the number of distinct keys, not the number of lines."""
import gzip
import random
import subprocess
import sys

import pytest

from conftest import BIN, NOW, START, STEP, dumps, record

# Runs one command in a fresh process and prints the peak resident set of
# that command alone (RUSAGE_CHILDREN of a process with one child).
MEASURE = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    p = subprocess.run(sys.argv[2:], stdin=f, stdout=subprocess.DEVNULL)\n"
    "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def peak_rss_kib(stdin_path, *args):
    out = subprocess.run([sys.executable, "-c", MEASURE, str(stdin_path), str(BIN), "--now", NOW, "--json", *args],
                         capture_output=True, check=True, timeout=600).stdout.split()
    assert out[0] == b"0"
    return int(out[1])


def make_log(path, n_lines, compress=False):
    """n_lines records over a fixed set of 200 keys."""
    rng = random.Random(5)
    pool = []
    for k in range(200):
        d = ("accept", "reject", "audit_reject")[k % 3]
        pool.append(dumps(record(START + k * STEP, f"API {k % 4}", d, aud=[f"api://a{k % 10}"],
                                 matched=f"api://a{k % 10}" if d == "accept" else None, client=f"client-{k}",
                                 reasons=[] if d == "accept" else ["aud_mismatch"],
                                 hints=[] if d == "accept" else [{"code": "h", "text": "pad " * 40}])).encode())
    data = b"\n".join(rng.choice(pool) for _ in range(n_lines)) + b"\n"
    path.write_bytes(gzip.compress(data, 1) if compress else data)
    return len(data)


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("mem")
    small, big = d / "small.log", d / "big.log"
    sizes = {"small": make_log(small, 5000), "big": make_log(big, 400000)}
    small_gz, big_gz = d / "small.log.gz", d / "big.log.gz"
    small_gz.write_bytes(gzip.compress(small.read_bytes(), 1))
    big_gz.write_bytes(gzip.compress(big.read_bytes(), 1))
    assert sizes["big"] > 150 * 1024 * 1024
    return {"small": small, "big": big, "small_gz": small_gz, "big_gz": big_gz, "big_size": sizes["big"]}


@pytest.mark.parametrize("how", ["plain file", "gzip from a pipe"])
def test_peak_memory_does_not_grow_with_lines(logs, how):
    if how == "plain file":
        small = peak_rss_kib("/dev/null", logs["small"])
        big = peak_rss_kib("/dev/null", logs["big"])
    else:
        small = peak_rss_kib(logs["small_gz"], "-")
        big = peak_rss_kib(logs["big_gz"], "-")
    # 80 times the lines (over 150 MiB); the keys are the same, so the peak
    # may move by buffers in flight, never by the input's size.
    assert big - small < 48 * 1024, (small, big)
    assert big * 1024 < logs["big_size"] // 3, (big, logs["big_size"])
