"""Accounts, users and access keys: who may call the gateway (docs/architecture.md, Security).

    schema.py     the tables (their own database: every backend shares one identity)
    key_vault.py  secrets encrypted at rest (AES-GCM under the installation's master key)
    directory.py  `Directory`: create and look up accounts, users and keys
    bootstrap.py  the first account and its admin key, written to <data-dir>/root-credentials
"""
