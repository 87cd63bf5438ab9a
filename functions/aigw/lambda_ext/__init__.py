"""Settlement after the response on Lambda (`settings.settle_after_response`; docs/DESIGN.md §8).

`install(app, settings)` is the one entry point (functions/gateway/main.py): with the setting
off it returns `app` unchanged; on Lambda it registers the internal extension first and, if
that fails, also returns `app` unchanged (settlement stays inline: never deferred unguarded).
Off Lambda (uvicorn, `aigw dev`) a process does not freeze, so the wrapper alone is enough.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger("aigw.lambda_ext")


def install(app: Any, settings: Any) -> Any:
    if not getattr(settings, "settle_after_response", False):
        return app
    from aigw.lambda_ext.deferred import PostResponse, Tracker

    tracker = Tracker()
    if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
        from aigw.lambda_ext.extension import SettlementExtension

        try:
            SettlementExtension(tracker).start()
        except Exception:
            logger.exception("settlement extension did not register: settling before the response")
            return app
    return PostResponse(app, tracker)
