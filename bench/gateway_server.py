"""The gateway in its own process for benchmarks: moto, a seeded key, uvicorn.

    python bench/gateway_server.py --port P --config FILE --key sk-aigw-... [--core]

`--core` builds the pipeline with no stages (no cache, no admission): the foundation's hot
path, with no DynamoDB call once the key is cached. Without it, the stages the config turns
on run as in production (admission and settlement write to DynamoDB, here moto).
`--no-moto` (with `--core`) serves the key from an in-memory table instead of moto, so the
process holds only the gateway: what its RSS is on Lambda.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--core", action="store_true")
    parser.add_argument("--no-moto", action="store_true")
    args = parser.parse_args()

    import uvicorn

    from aigw.config import load_config_file
    from aigw.gateway import build_services
    from aigw.http.app import create_app
    from aigw.local.environment import create_key, start_local_aws
    from aigw.observability import Observer

    config = load_config_file(args.config)
    observer = Observer(stream=open(os.devnull, "w"))  # noqa: SIM115 (lives as long as the process)
    if args.no_moto:
        from aigw.aws import AwsResources
        from tests.fakes.asgi_direct import OneKeyTables

        aws = AwsResources(dynamodb=OneKeyTables(args.key))
        services = build_services(config, aws=aws, observer=observer, stages=[])
    else:
        local = start_local_aws(config)
        create_key(local.aws, key=args.key)
        services = build_services(config, aws=local.aws, observer=observer, **({"stages": []} if args.core else {}))
    from aigw.http.server import KEEP_ALIVE_S, PROTOCOL
    from aigw.lambda_ext import install

    # As functions/gateway/main.py wires it: with `settings.settle_after_response` in the config,
    # responses end before their settlement (off Lambda the wrapper alone; no extension).
    app = install(create_app(services), services.config.settings)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, http=PROTOCOL,
                proxy_headers=False, timeout_keep_alive=KEEP_ALIVE_S)  # as run.sh


if __name__ == "__main__":
    main()
