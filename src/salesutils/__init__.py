"""Sales forecasting helpers used by the notebooks."""
__version__ = "0.1.0"
