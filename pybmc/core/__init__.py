"""Core layer: one Bmc wires protocol, commands and model, and owns the one timer."""
