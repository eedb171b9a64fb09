"""A whole virtual cluster (network, BMCs, nodes, PXE, inventory) described by one TOML file."""
