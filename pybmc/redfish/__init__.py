"""The Redfish front: sans-IO route handlers over the BMC's model (beside the IPMI dispatcher)."""
