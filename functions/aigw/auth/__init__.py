"""Virtual keys: generation, hashing, the stored record and its cached lookup."""

from aigw.auth.keys import extract_key, generate_key, hash_key, key_prefix
from aigw.auth.records import KeyRecord, key_item_pk
from aigw.auth.store import KeyStore

__all__ = ["KeyRecord", "KeyStore", "extract_key", "generate_key", "hash_key", "key_item_pk", "key_prefix"]
