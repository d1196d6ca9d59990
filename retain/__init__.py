"""The `retain` command line: one entry point over the feature, training and serving stages."""

__all__: list[str] = []
