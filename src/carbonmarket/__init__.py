"""carbonmarket: an open national carbon market, from emissions data to the public portal."""

__version__ = "0.1.0"
