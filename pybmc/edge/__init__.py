"""Edge layer: asyncio sockets, the in-band listener, consoles, power backends, processes."""
