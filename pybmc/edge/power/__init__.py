"""Power backends: what happens to the machine when a client presses a chassis button."""
