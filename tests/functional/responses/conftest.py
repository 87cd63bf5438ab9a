from tests.functional.providers.conftest import *  # noqa: F403 - the same fake upstreams
from tests.functional.providers.conftest import __all__ as __all__
