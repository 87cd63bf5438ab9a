"""Cold start of the gateway function, reproduced locally: `python bench/cold_start.py [--runs 7]`.

Lays out what Lambda would mount, from the same inputs the stack uses: `/var/task` (the
`functions/` asset), `/opt/python` (the locked base + gateway layer sets, installed for this
machine's CPU since the real layer is arm64), `/opt/tiktoken_cache` and `/opt/aigw/config.json`.
Runs them with a CPython 3.13 (the runtime's; `infra/python313.py` finds or fetches one) and the
gateway function's environment as the synthesized stack sets it (paths mapped to the local
layout, fake table names and credentials; nothing is called at init). Two variants:

  sources    no bytecode: every module is compiled at every cold start (as before issue 12);
  bytecode   `.pyc` compiled as the stack ships them (unchecked-hash, infra/bytecode.py).

Per variant, over --runs fresh processes (PYTHONDONTWRITEBYTECODE: the mounts are read-only):
  import     `import main` (the entry module run.sh serves: config, services, app);
  ready      process start to the first 200 from /health, with the exact uvicorn command
             of run.sh: what Lambda Web Adapter waits for before it lets the first request in;
  no warm    the same, with the app built `create_app(..., warm=False)`: what init costs without
             the startup warm-up (boto3 handles, both tiktoken encodings, stage warm-ups);
  bg warm    the same warm-up started in a background thread rather than awaited before
             readiness (the lazy-init change proposed for gateway.py / http/app.py).
Prints a table; not a test. The first run downloads the wheels (pip cache) and, on a Debian
machine without python3.13, Debian 13's interpreter (cached in ~/.cache/aigw).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from infra import deps, python313  # noqa: E402
from infra.bytecode import compile_tree  # noqa: E402

# The two variants are functions/gateway/main.py itself with the app built `warm=False`; the
# second then starts the same warm-up in a thread (the lazy-init change proposed for the lead).
WARM_CALL = "create_app(services)"
BACKGROUND_WARM = '\nimport threading\n\nthreading.Thread(target=services.warm, name="warm", daemon=True).start()\n'


def entry_variants(main: str) -> tuple[str, str]:
    """(no warm-up, warm-up in a thread) versions of the gateway's entry module."""
    if WARM_CALL not in main:
        raise SystemExit(f"functions/gateway/main.py no longer calls {WARM_CALL}: update bench/cold_start.py")
    no_warm = main.replace(WARM_CALL, "create_app(services, warm=False)")
    return no_warm, no_warm + BACKGROUND_WARM


IMPORT_PROBE = ("import time; t, c = time.perf_counter(), time.process_time(); import main; "
                "print(time.perf_counter() - t, time.process_time() - c)")
TICKS = os.sysconf("SC_CLK_TCK")


def stack_environment() -> dict[str, str]:
    """The gateway function's environment variables, from a synth of the default stack."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from app import build

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory() as out:
        app = cdk.App(outdir=out, context={**context, "skip_deps_bundling": True, "bytecode": "off"})
        stack = build(app)
        functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    (gateway,) = [f for f in functions.values() if f["Properties"]["Handler"] == "gateway/run.sh"]
    env = gateway["Properties"]["Environment"]["Variables"]
    return {name: value if isinstance(value, str) else f"bench-{name.lower()}" for name, value in env.items()}


def lay_out(work: Path) -> tuple[Path, Path]:
    """(task, opt): the function asset and the layers, as Lambda mounts them."""
    task, opt = work / "var" / "task", work / "opt"
    shutil.copytree(ROOT / "functions", task, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    shutil.copytree(ROOT / "layers" / "tiktoken", opt, dirs_exist_ok=True)
    from aigw.config import load_config_file

    (opt / "aigw").mkdir(parents=True)
    (opt / "aigw" / "config.json").write_text(load_config_file(ROOT / "examples" / "aigw.yaml").model_dump_json())
    for layer in deps.LAYER_SETS:  # the locked set, for this machine's platform; Lambda merges layers into /opt
        target = work / "layers" / layer.name
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", "--no-deps", "--require-hashes", "--only-binary=:all:",
                        "--python-version", deps.PYTHON_VERSION, "--implementation", "cp",
                        "-r", str(layer.file), "--target", str(target)], check=True)
        shutil.copytree(target, opt / "python", dirs_exist_ok=True)
    return task, opt


def environment(task: Path, opt: Path, port: int) -> dict[str, str]:
    env = {key: value.replace("/opt/", f"{opt}/").replace("/var/task", str(task))
           for key, value in stack_environment().items()}
    env.update(PYTHONPATH=f"{task}:{opt}/python", LAMBDA_TASK_ROOT=str(task), AWS_LWA_PORT=str(port),
               AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench",
               AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true", PYTHONDONTWRITEBYTECODE="1",
               PYTHONNOUSERSITE="1", PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=str(task.parent))
    env.pop("AWS_LAMBDA_EXEC_WRAPPER", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_import(python: tuple[str, ...], task: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of `import main` in a fresh process."""
    result = subprocess.run([*python, "-c", IMPORT_PROBE], cwd=task / "gateway", env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"import main failed:\n{result.stderr[-3000:]}")
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def _cpu_s(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def time_ready(python: tuple[str, ...], task: Path, env: dict[str, str], entry: str = "main") -> tuple[float, float]:
    """(wall, CPU) seconds from process start to the first 200 from /health, with run.sh's uvicorn command.

    CPU time is what a quiet machine's wall time would be, near enough: it does not grow with load.
    """
    port = int(env["AWS_LWA_PORT"])
    command = [*python, "-m", "uvicorn", "--app-dir", str(task / "gateway"), f"{entry}:app", "--host", "127.0.0.1",
               "--port", str(port), "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "75"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - started < 60:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {process.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started, _cpu_s(process.pid)
            except OSError:
                time.sleep(0.005)
        raise RuntimeError("not ready after 60 s")
    finally:
        process.terminate()
        process.wait(timeout=10)


def summary(samples: list[tuple[float, float]]) -> str:
    """median wall ms (min-max) / median CPU ms"""
    wall = [w * 1000 for w, _ in samples]
    cpu = statistics.median(c for _, c in samples) * 1000
    return f"{statistics.median(wall):5.0f} ({min(wall):.0f}-{max(wall):.0f}) / {cpu:4.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per measurement (median shown)")
    parser.add_argument("--workdir", type=Path, help="lay out here and keep it (reused when it exists)")
    args = parser.parse_args()
    interpreter = python313.find()
    python = interpreter.argv
    print(f"CPython {interpreter.version} from {interpreter.origin}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; {args.runs} runs each; median wall ms (min-max) / median CPU ms")
    rows = []
    with tempfile.TemporaryDirectory(prefix="aigw-cold-") as temporary:
        work = args.workdir or Path(temporary)
        task, opt = (work / "var" / "task", work / "opt") if (work / "opt" / "python").exists() else lay_out(work)
        for stale in [*task.rglob("__pycache__"), *(opt / "python").rglob("__pycache__")]:
            shutil.rmtree(stale)
        no_warm, background_warm = entry_variants((ROOT / "functions" / "gateway" / "main.py").read_text())
        (task / "gateway" / "main_no_warm.py").write_text(no_warm)
        (task / "gateway" / "main_bg_warm.py").write_text(background_warm)
        env = environment(task, opt, free_port())
        for variant in ("sources", "bytecode"):
            if variant == "bytecode":
                for directory, runtime_path in ((task, str(task)), (opt / "python", str(opt / "python"))):
                    compile_tree(interpreter, directory, runtime_path=runtime_path)
            imports = [time_import(python, task, env) for _ in range(args.runs)]
            ready = [time_ready(python, task, env) for _ in range(args.runs)]
            no_warm = [time_ready(python, task, env, "main_no_warm") for _ in range(args.runs)]
            background = [time_ready(python, task, env, "main_bg_warm") for _ in range(args.runs)]
            rows.append((variant, summary(imports), summary(ready), summary(no_warm), summary(background)))
    print(f"{'variant':<10} {'import main':<26} {'start -> /health ready':<26} {'ready, no warm-up':<26} "
          f"{'ready, warm-up in thread':<26}")
    for row in rows:
        print(f"{row[0]:<10} " + " ".join(f"{cell:<26}" for cell in row[1:]))


if __name__ == "__main__":
    main()
