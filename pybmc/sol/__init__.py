"""Serial over LAN: the SOL packet protocol (payload.py) and the guest console bridge."""
