"""I/O at the edge: Redis and HTTP, thin and typed. Library exceptions are converted here."""
