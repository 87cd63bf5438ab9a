"""Each function starts with only its own layers: an import from outside them fails here, not on Lambda.

The functions run in a subprocess of this (test) interpreter, with an import hook that refuses
every top-level module that is neither the standard library, first-party code, nor shipped by a
distribution of the function's locked layer sets (`layers/deps/*.txt`). The test venv has far
more installed (moto, openai, ...); this is what makes a stray import visible.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aigw.config import load_config_file
from infra import deps
from infra.settings import ROOT

FIRST_PARTY = ("aigw", "admin", "gateway", "main")
_HOOK = r"""
import importlib.abc, importlib.metadata, sys
allowed_dists = set(sys.argv[1].split(","))
first_party = set(sys.argv[2].split(","))
by_module = importlib.metadata.packages_distributions()
def norm(name):
    import re
    return re.sub(r"[-_.]+", "-", name).lower()
class Layers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in first_party or top.startswith("_"):
            return None
        dists = {norm(d) for d in by_module.get(top, [])}
        if dists and dists <= allowed_dists:
            return None
        raise ModuleNotFoundError(f"{name!r} is not in this function's layers (from {sorted(dists) or '?'})")
sys.meta_path.insert(0, Layers())
"""


def _distributions(*layers: deps.LayerSet) -> str:
    return ",".join(sorted({pin.name for layer in layers for pin in deps.parse(layer.file.read_text())}))


def _run(code: str, layers: tuple[deps.LayerSet, ...], tmp_path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.json"
    config.write_text(load_config_file(ROOT / "examples" / "aigw.yaml").model_dump_json())
    env = {**os.environ, "AIGW_CONFIG": str(config), "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "true",
           "TIKTOKEN_CACHE_DIR": str(ROOT / "layers" / "tiktoken" / "tiktoken_cache"),
           "PYTHONPATH": str(ROOT / "functions")}
    env = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
    return subprocess.run([sys.executable, "-c", _HOOK + code, _distributions(*layers), ",".join(FIRST_PARTY)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_hook_refuses_what_no_layer_ships(tmp_path: Path) -> None:
    result = _run("import moto", (deps.BASE, deps.GATEWAY), tmp_path, ROOT)
    assert result.returncode != 0 and "not in this function's layers" in result.stderr


def test_admin_runs_on_the_base_layer_alone(tmp_path: Path) -> None:
    code = ("import json, admin.main as m\n"
            "event = {'httpMethod': 'GET', 'path': '/admin/nope', 'resource': '/admin/{proxy+}', 'headers': {},\n"
            "         'requestContext': {'requestId': 'r1', 'stage': 'prod'}, 'body': None, 'isBase64Encoded': False}\n"
            "class Context:\n"
            "    function_name, memory_limit_in_mb, aws_request_id = 'admin', 512, 'r1'\n"
            "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:admin'\n"
            "print(json.dumps(m.handler(event, Context())))\n")
    result = _run(code, (deps.BASE,), tmp_path, ROOT / "functions")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["statusCode"] == 404


@pytest.mark.slow
def test_gateway_starts_on_its_layers(tmp_path: Path) -> None:
    """`import main` (what run.sh serves), the server protocol run.sh names, and the startup
    warm-up, with base + gateway layers only."""
    code = ("import main\n"
            "from uvicorn.importer import import_from_string\n"
            "import_from_string('aigw.http.server:GatewayHttpProtocol')\n"
            "from aigw.config import load_config_file\n"
            "from aigw.gateway import build_services\n"
            "build_services(load_config_file()).warm()\n"
            "print('ok')\n")
    result = _run(code, (deps.BASE, deps.GATEWAY), tmp_path, ROOT / "functions" / "gateway")
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
