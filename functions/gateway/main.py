"""Lambda entry for the data plane: uvicorn serves `app` under AWS Lambda Web Adapter.

Only wiring. Import stays light (no boto3, no tokenizer): the slow parts run in the app's
startup, which Lambda Web Adapter waits for before it sends the first request.
"""

from aigw.config import load_config_file
from aigw.gateway import build_services
from aigw.http.app import create_app

app = create_app(build_services(load_config_file()))
