"""Model layer: what a BMC is (users, LAN, boot flags, platform data, watchdog, power types)."""
