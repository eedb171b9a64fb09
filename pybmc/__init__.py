"""pybmc: a pure-Python IPMI BMC emulator for QEMU virtual machines."""

__version__ = "0.1.0"
