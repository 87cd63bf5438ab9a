"""SigV4-signed exports, for CloudWatch's OTLP traces endpoint
(`https://xray.<region>.amazonaws.com/v1/traces`, service `xray`): spans reach X-Ray and
CloudWatch Transaction Search straight from the function, with its own role, and no collector.

The OTLP exporter sends through a `requests.Session`; this one signs each request over the
exact bytes it sends (compressed or not) with botocore, already a dependency. Credentials come
from botocore's chain (on Lambda: the function role's variables) and are re-read on every
export, so rotated credentials are picked up.
"""

from __future__ import annotations

from typing import Any

import requests


class SigV4Session(requests.Session):
    def __init__(self, *, service: str, region: str, credentials: Any = None) -> None:
        super().__init__()
        self._service = service
        self._region = region
        self._credentials = credentials

    def _frozen_credentials(self) -> Any:
        if self._credentials is None:
            import botocore.session

            self._credentials = botocore.session.get_session().get_credentials()
        if self._credentials is None:
            raise RuntimeError("no AWS credentials to sign the span export with")
        return self._credentials.get_frozen_credentials()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """Sign, then send: the exporter calls `request(method=, url=, headers=, data=, ...)`."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        headers = dict(kwargs.pop("headers", None) or {})
        data = kwargs.pop("data", None)
        method_s = method.decode() if isinstance(method, bytes) else method
        url_s = url.decode() if isinstance(url, bytes) else url
        signed = AWSRequest(method=method_s, url=url_s, data=data, headers=headers)
        SigV4Auth(self._frozen_credentials(), self._service, self._region).add_auth(signed)
        kwargs.update(headers=dict(signed.headers.items()), data=data)
        return super().request(method_s, url_s, *args, **kwargs)
