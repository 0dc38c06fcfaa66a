"""bench_load.py - a benchmark, not a test: what loading a checkpoint costs, two builds side by side.

  /usr/bin/python3 scripts/bench_load.py BASE_BUILD NEW_BUILD [MODEL|random] [ROUNDS]

Runs squeeze-inspect (MODEL --json: read, detect, account, no artifact) and squeeze-evaluate
(MODEL on MAX_WINDOWS windows, default 4, so that loading dominates) of both builds, ROUNDS
(default 7) interleaved rounds, the order of the builds alternating between rounds.  Per
program and build, medians over the rounds of:
  wall s       the process's wall-clock time (time.monotonic around fork and wait)
  cpu s        its user + system CPU time (wait4's rusage): what the machine's load does not change
  peak RSS     the kernel's high-water mark of the process's resident set (wait4's ru_maxrss, the
               counter /proc/PID/status shows as VmHWM); for evaluate also VmHWM as the process
               read it from /proc/self/status (the artifact's peak_rss_bytes)
  outside loop evaluate's wall time less its window loop (loading, tokenizing, writing)
The 1-, 5- and 15-minute load (/proc/loadavg) is printed beside every round.  MODEL "random"
is scripts/random_itera.py's 43.3M-parameter model (173 MB of fp32), evaluated on the micro
model's text and tokenizer; MODEL defaults to the bundled Itera model.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
PY = "/usr/bin/python3"


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run(argv, env):
    """wall s, cpu s, ru_maxrss bytes, stdout of one process."""
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed with exit code {proc.returncode}")
        out.seek(0)
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, out.read()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    builds = {"base": sys.argv[1], "new": sys.argv[2]}
    model = sys.argv[3] if len(sys.argv) > 3 else os.path.join(DATA, "bundled", "itera_tiny_bytes.pt")
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    work = tempfile.mkdtemp()
    try:
        measure(builds, model, rounds, work)
    finally:
        shutil.rmtree(work)


def measure(builds, model, rounds, work):
    if model == "random":
        model = os.path.join(work, "random_itera.pt")
        subprocess.run([PY, os.path.join(ROOT, "scripts", "random_itera.py"), model], check=True)
    if "random_itera" in model or "micro" in model:
        text, tokenizer, window, stride = os.path.join(DATA, "itera-lite", "tinystories_train.txt"), \
            os.path.join(DATA, "itera-lite", "tokenizer_2000.json"), 129, 64
    else:
        text, tokenizer, window, stride = os.path.join(DATA, "bundled", "austen_val.txt"), "bytes", 257, 256
    config = os.path.join(work, "evaluate.yaml")
    with open(config, "w") as f:
        f.write(f"model: {{checkpoint: {model}}}\ndata:\n  tokenizer: {tokenizer}\n"
                f"  evaluation: {{path: {text}, format: text, start: 0.9, end: 1.0}}\n"
                f"evaluate: {{window_length: {window}, stride: {stride}, offset: 1, "
                f"max_windows: {os.environ.get('MAX_WINDOWS', '4')}}}\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    rows = {}
    print(f"model {model} ({os.path.getsize(model)} bytes), {rounds} interleaved rounds; load at start {load()} "
          f"on {os.cpu_count()} cores")
    for r in range(rounds):
        order = ["base", "new"] if r % 2 == 0 else ["new", "base"]
        for name in order:
            b = builds[name]
            wall, cpu, rss, _ = run([os.path.join(b, "squeeze-inspect"), model, "--json"], env)
            rows.setdefault(("inspect", name), []).append((wall, cpu, rss, None, None))
            wall, cpu, rss, out = run([os.path.join(b, "squeeze-evaluate"), "--config", config, "--model", model,
                                       "--out", os.path.join(work, "e.h5"), "--json"], env)
            e = json.loads(out)
            rows.setdefault(("evaluate", name), []).append((wall, cpu, rss, e["peak_rss_bytes"], wall - e["seconds"]))
        print(f"round {r + 1}: load {load()}", flush=True)
    print(f"{'program':9} {'build':5} {'wall s':>7} {'cpu s':>7} {'peak RSS MiB':>13} {'VmHWM MiB':>10} "
          f"{'outside loop s':>15}")
    for (program, name), values in rows.items():
        med = [statistics.median(v[i] for v in values) if values[0][i] is not None else None for i in range(5)]
        print(f"{program:9} {name:5} {med[0]:7.3f} {med[1]:7.3f} {med[2] / 1048576:13.1f} "
              f"{med[3] / 1048576 if med[3] else float('nan'):10.1f} "
              f"{med[4] if med[4] is not None else float('nan'):15.3f}")
    print(f"load at end {load()}")


if __name__ == "__main__":
    main()
