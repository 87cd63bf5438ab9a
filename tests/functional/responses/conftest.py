from tests.fakes.provider_fixtures import (
    fake_anthropic,
    fake_anthropic_server,
    fake_azure,
    fake_azure_server,
    fake_bedrock,
    fake_bedrock_server,
    fake_gemini,
    fake_gemini_server,
    provider_gateway,
)

__all__ = ["fake_anthropic", "fake_anthropic_server", "fake_azure", "fake_azure_server", "fake_bedrock",
           "fake_bedrock_server", "fake_gemini", "fake_gemini_server", "provider_gateway"]
