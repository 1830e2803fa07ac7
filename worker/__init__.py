"""marsad: an event-driven news-monitoring worker.

Importing the package has no side effects; see docs/architecture.md for the map.
"""

__version__ = "0.1.0"
