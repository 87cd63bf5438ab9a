from tests.fakes.provider_fixtures import fake_anthropic, fake_anthropic_server, provider_gateway

__all__ = ["fake_anthropic", "fake_anthropic_server", "provider_gateway"]
