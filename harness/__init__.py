"""cmi-hil: hardware-in-the-loop conformance harness for the Elvaco CMi1020 M-Bus module."""

__version__ = "0.1.0"
