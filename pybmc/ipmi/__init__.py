"""IPMI message layer: codes, the message codec, the dispatcher and the command handlers."""
