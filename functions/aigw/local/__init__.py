"""The local runner: moto-served AWS, the same tables as the stack, seeded keys and secrets."""
