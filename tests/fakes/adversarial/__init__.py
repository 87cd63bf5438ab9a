"""Adversarial upstreams, one per provider family, written from each provider's public API
reference (not from the well-behaved fakes beside this package).

Each family module turns a request into the frames its API would send, and the test picks a
`Fault` (with hypothesis) that the raw server applies on the wire: a clean close at any
frame, a TCP reset, a stall, garbage frames, invalid usage numbers, an error body that
echoes the credential the gateway sent. `server.AdversarialServer` is a bare HTTP/1.1
server on loopback, so every fault is exactly the bytes (or the missing bytes) it says.
"""
