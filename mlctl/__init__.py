"""mlctl: an ML project as an automated, versioned, tested system."""

__version__ = "0.1.0"
