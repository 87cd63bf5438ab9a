"""Guardrails on input and output, streams included (docs/DESIGN.md §4 step 3).

    config       the `guardrails:` and `policies:` config sections
    policy       which guardrails apply to a request (union of scopes, config order)
    base         the Detector protocol (+ the SpanDetector capability), Finding, Verdict
    pii, secrets, patterns       CPU-only span detectors (redact-capable, on every stream chunk)
    injection (+ injection_rules), topics, bedrock, webhook   scored or remote detectors
    redact       Vault, placeholders and the Restorer; stream: StreamScanner, IntervalChecker
    engine       build guardrails from config; run_checks over a request's texts
    stage        GuardrailStage: the input check and the output filter

Nothing heavy is imported here; detectors compile their patterns on first use.
"""
