"""Lambda entry for the data plane: uvicorn serves `app` under AWS Lambda Web Adapter.

Only wiring. Import stays light (no boto3, no tokenizer): the slow parts run in the app's
startup, which Lambda Web Adapter waits for before it sends the first request.
"""

from aigw.budgets.notify import send_before_response_end
from aigw.config import load_config_file
from aigw.gateway import build_services
from aigw.http.app import create_app
from aigw.lambda_ext import install as settle_after_response
from aigw.telemetry import export_before_response_end

services = build_services(load_config_file())
# With tracing on, a response ends only once its spans are exported (a frozen Lambda keeps none);
# a response whose settlement crossed a budget alert threshold, once its event is sent.
app = send_before_response_end(export_before_response_end(create_app(services), services.pipeline.observer),
                               services)
# With settings.settle_after_response, responses (streams too) end before settlement (aigw/lambda_ext).
app = settle_after_response(app, services.config.settings)
