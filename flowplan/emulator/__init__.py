"""A local Flow Service + IMS emulator, faithful to Adobe's published API (see server.py)."""

from flowplan.emulator.server import Emulator, Fault

__all__ = ["Emulator", "Fault"]
