"""Config layer: the TOML config of a BMC, its platform data, and the lan.conf importer."""
