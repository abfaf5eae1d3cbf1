"""Length units found in file metadata, converted to micrometres."""

from __future__ import annotations

# Factor to micrometres for the spellings OME-XML and ImageJ use, and OME-NGFF's UDUNITS-2
# names.
_TO_UM: dict[str, float] = {
    "pm": 1e-6, "Å": 1e-4, "nm": 1e-3, "µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0,
    "microns": 1.0, "\\u00B5m": 1.0, "mm": 1e3, "cm": 1e4, "dm": 1e5, "m": 1e6,
    "picometer": 1e-6, "angstrom": 1e-4, "nanometer": 1e-3, "micrometer": 1.0,
    "millimeter": 1e3, "centimeter": 1e4, "meter": 1e6,
}


def to_micrometre(unit: str | None) -> float | None:
    """Multiply a length in ``unit`` by this to get micrometres; None for unknown units.

    ``None``/empty means the OME default, micrometres.
    """
    if not unit:
        return 1.0
    return _TO_UM.get(unit.strip())
