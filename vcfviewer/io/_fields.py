"""Typed access to parsed JSON that names the field path on every error (``findings[3].grade``)."""

from __future__ import annotations

import math
from typing import Any

_MISSING = object()


class FieldError(ValueError):
    """A JSON field that is missing or malformed; ``field`` is its path in the document."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}" if field else reason)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            type(None): "null"}.get(type(value), "a number")


class Fields:
    """A JSON value and its path; accessors check the type and raise FieldError when wrong."""

    def __init__(self, value: Any, path: str = "") -> None:
        self.value, self.path = value, path

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def is_null(self) -> bool:
        return self.value is None

    def at(self, key: str) -> Fields:
        """The member ``key`` of this object (missing reads as null)."""
        return Fields(self.dict().get(key), self._child_path(key))

    def item(self, index: int) -> Fields:
        return Fields(self.list()[index], self._child_path(index))

    def dict(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise FieldError(self.path, f"expected an object, got {_kind(self.value)}")
        return self.value

    def list(self, key: str | None = None) -> list[Any]:
        if key is not None:
            return self.at(key).list()
        if not isinstance(self.value, list):
            raise FieldError(self.path, f"expected a list, got {_kind(self.value)}")
        return self.value

    def _get(self, key: str, optional: bool, default: Any) -> Any:
        members = self.dict()
        if key not in members or members[key] is None:
            if default is not _MISSING:
                return default
            if optional:
                return None
            raise FieldError(self._child_path(key), "missing")
        return members[key]

    def str(self, key: str, optional: bool = False, default: Any = _MISSING) -> Any:
        value = self._get(key, optional, default)
        if value is not None and value is not default and not isinstance(value, str):
            raise FieldError(self._child_path(key), f"expected a string, got {_kind(value)}")
        return value

    def bool(self, key: str, optional: bool = False, default: Any = _MISSING) -> Any:
        value = self._get(key, optional, default)
        if value is not None and value is not default and not isinstance(value, bool):
            raise FieldError(self._child_path(key), f"expected true/false, got {_kind(value)}")
        return value

    def int(self, key: str | None = None, optional: bool = False, default: Any = _MISSING,
            minimum: int | None = None, maximum: int | None = None) -> Any:
        value = self.value if key is None else self._get(key, optional, default)
        where = self.path if key is None else self._child_path(key)
        if value is None or (value is default and key is not None):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(where, f"expected a whole number, got {_kind(value)} {value!r}")
        if minimum is not None and value < minimum:
            raise FieldError(where, f"{value} is below the minimum {minimum}")
        if maximum is not None and value > maximum:
            raise FieldError(where, f"{value} is above the maximum {maximum}")
        return value

    def float(self, key: str | None = None, optional: bool = False) -> Any:
        value = self.value if key is None else self._get(key, optional, _MISSING)
        where = self.path if key is None else self._child_path(key)
        if value is None:
            return None
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise FieldError(where, f"expected a finite number, got {value!r}")
        return float(value)

    def str_list(self, key: str, default: Any = _MISSING) -> list[str]:
        members = self.dict()
        if key not in members and default is not _MISSING:
            return list(default)
        child = self.at(key)
        values = child.list()
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise FieldError(child._child_path(i), f"expected a string, got {_kind(v)}")
        return list(values)

    def point(self) -> tuple[float, float]:
        """An [x, y] pair of finite numbers."""
        values = self.list() if isinstance(self.value, list) else None
        if values is None or len(values) != 2:
            raise FieldError(self.path, "expected a point [x, y]")
        return (self.item(0).float(), self.item(1).float())

    def positive_pair(self) -> tuple[float, float]:
        """A pair of positive numbers (pixel spacing)."""
        a, b = self.point()
        if a <= 0 or b <= 0:
            raise FieldError(self.path, f"expected two positive numbers, got [{a}, {b}]")
        return (a, b)
