"""The control plane: teams, virtual keys, budgets, rate limits and usage.

    models.py   request bodies (pydantic) and the error type every adapter renders the same way
    service.py  the operations, on the Entities and Counters tables (boto3 injected); no HTTP
    spend.py    its budgets and usage half (budgets with spend, reserved and left; usage)
    api.py      the route table and a framework-neutral dispatcher (JSON in, JSON out)
    routes.py   the Starlette adapter `aigw dev` mounts (bearer AIGW_ADMIN_TOKEN)
The Lambda adapter (Powertools APIGatewayRestResolver, IAM auth) is functions/admin/main.py.
"""
