"""Value types for config settings with a range, so that spaCy's config validation reports a
bad value in its table, naming the setting and what it takes, e.g.
`components.ptuning_textcat.model.encoder -> prefix_dropout  at root: 1.5 is not a number
from 0 to 1 (1 excluded)`. Settings with a fixed set of values use typing.Literal.

Each type is the builtin it holds (an int or float subclass, so annotations read naturally)
with a `__get_validators__` hook, which confection's type checker calls.
"""
from typing import Any, Callable, Iterator, Optional


class _Described(type):
    """Metaclass: a type prints as the values it takes (the text of spaCy's error table)."""

    description = ""

    def __str__(cls) -> str:
        return cls.description

    __repr__ = __str__


def _check(kind: type, low: Optional[float], high: Optional[float], high_open: bool,
           low_open: bool) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise TypeError(f"{value!r} is not a {'number' if kind is float else 'whole number'}")
        if low is not None and (value <= low if low_open else value < low):
            raise ValueError(f"{value!r} is too small")
        if high is not None and (value >= high if high_open else value > high):
            raise ValueError(f"{value!r} is too large")
        return value

    return validate


class _Ranged:
    """Mixin: the `__get_validators__` hook of a ranged type."""

    _validate: Callable[[Any], Any]

    @classmethod
    def __get_validators__(cls) -> Iterator[Callable[[Any], Any]]:
        yield cls._validate


class Probability(float, _Ranged, metaclass=_Described):
    """A rate such as a dropout: 0 <= value < 1."""

    description = "a number from 0 to 1 (1 excluded)"
    _validate = staticmethod(_check(float, 0.0, 1.0, high_open=True, low_open=False))


class UnitInterval(float, _Ranged, metaclass=_Described):
    """A share or threshold: 0 <= value <= 1."""

    description = "a number from 0 to 1"
    _validate = staticmethod(_check(float, 0.0, 1.0, high_open=False, low_open=False))


class PositiveFloat(float, _Ranged, metaclass=_Described):
    """A scale or standard deviation: value > 0."""

    description = "a number > 0"
    _validate = staticmethod(_check(float, 0.0, None, high_open=False, low_open=True))


class PositiveInt(int, _Ranged, metaclass=_Described):
    """A count or width that must be at least 1."""

    description = "a whole number >= 1"
    _validate = staticmethod(_check(int, 1, None, high_open=False, low_open=False))


class NonNegativeInt(int, _Ranged, metaclass=_Described):
    """A width where 0 means "none"."""

    description = "a whole number >= 0 (0: none)"
    _validate = staticmethod(_check(int, 0, None, high_open=False, low_open=False))
