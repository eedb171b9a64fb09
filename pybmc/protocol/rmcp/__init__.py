"""RMCP, IPMI 1.5 and RMCP+ sessions, sans-IO: datagrams and now in, datagrams and events out."""
