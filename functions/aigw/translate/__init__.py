"""Translation between client APIs and the canonical OpenAI Chat Completions shape.

Provider-side translators (OpenAI shape -> a provider API) live with their adapters in
`aigw.providers`; this package holds what several of them share (content parts, tool
arguments) and the client-side translators of the second front door (Anthropic Messages).
"""
