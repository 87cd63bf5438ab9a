#!/bin/bash
# Lambda handler for the gateway function: AWS Lambda Web Adapter (the layer, through
# AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) runs this and proxies invocations to the port.
# --no-proxy-headers: nothing reads the client address X-Forwarded-For would set (the log line
# has none), and uvicorn's proxy-headers layer is one more ASGI call on every request.
export PYTHONPATH="${LAMBDA_TASK_ROOT}:/opt/python:${PYTHONPATH:-}"
exec python -m uvicorn --app-dir "${LAMBDA_TASK_ROOT}/gateway" main:app \
  --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" --no-access-log --log-level warning --timeout-keep-alive 75 \
  --no-proxy-headers --http aigw.http.server:GatewayHttpProtocol
