"""Response caching: an exact layer (DynamoDB) and a semantic layer (vector index + embedder),
tenant-isolated, run as one pipeline stage (`aigw.cache.stage`).

    keys.py        the normalized request, exact key and semantic query
    policy.py      per-request plan: overrides, determinism, x-aigw-cache headers
    entry.py       the cached answer and its serialization
    exact.py       ExactStore: DynamoDB (and in-memory)
    vectors.py     VectorIndex: in-process
    opensearch.py  VectorIndex: OpenSearch Serverless (SigV4, service aoss)
    embedders.py   Embedder: Titan V2, local (aigw[semantic-local]), a configured model
    assemble.py    a streamed answer back into one completion
    stage.py       the Stage; factory.py picks the implementations
"""
