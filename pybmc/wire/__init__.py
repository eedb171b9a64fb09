"""Wire layer: IPMI codes, the message codec and command errors; imports nothing else of pybmc."""
