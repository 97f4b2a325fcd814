"""A local Flow Service + Data Prep + IMS emulator, faithful to Adobe's published API."""

from flowplan.emulator.core import Emulator, Fault

__all__ = ["Emulator", "Fault"]
