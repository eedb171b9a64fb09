"""Protocol layer: sans-IO state machines (RMCP/RMCP+ sessions, SOL, the in-band VM link)."""
