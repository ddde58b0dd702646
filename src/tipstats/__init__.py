"""tipstats: standardized indicators on trafficking in persons, from NSO files to report tables."""

from __future__ import annotations

__version__ = "0.1.0"
