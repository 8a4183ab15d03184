"""Numeric precisions and their storage size."""

from __future__ import annotations

import enum
from typing import Any

from ..errors import UnknownNameError

__all__ = ["Precision"]


class Precision(enum.Enum):
    """A numeric format in which a tensor unit computes or a tensor is stored.

    The value is the canonical lower-case name.  :attr:`bytes` is the storage
    size of one element in bytes [B] (FP6 and FP4 pack several values per
    byte, so their sizes are fractions; block-scale factors of MX/NV formats
    are not included).

    Examples
    --------
    >>> Precision.parse("BF16").bytes
    2.0
    >>> Precision.parse("fp4").bytes
    0.5
    """

    FP64 = "fp64"
    FP32 = "fp32"
    TF32 = "tf32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    FP6 = "fp6"
    FP4 = "fp4"
    INT8 = "int8"

    @property
    def bytes(self) -> float:
        """Storage size of one element [B]."""
        return _BYTES[self]

    @property
    def bits(self) -> float:
        """Storage size of one element [bit]."""
        return _BYTES[self] * 8.0

    @classmethod
    def parse(cls, value: Any) -> Precision:
        """Return the Precision named by ``value`` (case-insensitive) or ``value`` itself.

        Raises
        ------
        UnknownNameError
            If ``value`` names no precision; the message lists the valid names.
        """
        if isinstance(value, Precision):
            return value
        if isinstance(value, str):
            found = _ALIASES.get(value.strip().lower().replace("-", "").replace("_", ""))
            if found is not None:
                return found
        raise UnknownNameError("precision", str(value), [p.value for p in cls])

    def __str__(self) -> str:
        return self.value


_BYTES: dict[Precision, float] = {
    Precision.FP64: 8.0,
    Precision.FP32: 4.0,
    Precision.TF32: 4.0,  # computed at 19 bits, stored as FP32
    Precision.BF16: 2.0,
    Precision.FP16: 2.0,
    Precision.FP8: 1.0,
    Precision.FP6: 0.75,
    Precision.FP4: 0.5,
    Precision.INT8: 1.0,
}

_ALIASES: dict[str, Precision] = {p.value: p for p in Precision}
_ALIASES.update(
    {
        "float64": Precision.FP64,
        "float32": Precision.FP32,
        "bfloat16": Precision.BF16,
        "float16": Precision.FP16,
        "half": Precision.FP16,
        "nvfp4": Precision.FP4,
        "mxfp4": Precision.FP4,
        "mxfp6": Precision.FP6,
        "mxfp8": Precision.FP8,
        "e4m3": Precision.FP8,
        "e5m2": Precision.FP8,
    }
)
