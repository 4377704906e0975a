"""What the user declares: target specs (TOML), recipes and the settings of each compression pass."""
