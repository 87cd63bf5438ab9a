"""aigw: a serverless AI gateway for AWS.

Kept import-light on purpose: the Lambda entry module imports this package on every cold
start, so nothing here may pull in boto3, tiktoken or the HTTP stack.
"""

__version__ = "0.1.0"
