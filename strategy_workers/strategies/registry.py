"""Where strategies are found: a decorator for built-ins and entry points for third parties.

Built-in strategies are the modules of this package (any module not named
``base``/``registry`` and not starting with ``_``); each registers its class
with ``@register``. Third-party packages declare an entry point in the group
``algotrade.strategies`` whose object is a :class:`Strategy` subclass (or a
module that registers on import). Neither needs an edit to existing code.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, TypeVar

from pydantic import ValidationError

from shared.contracts import Timeframe
from shared.errors import NotFound, Unprocessable
from strategy_workers.strategies.base import Strategy, StrategyParams
from strategy_workers.titles import human_title

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "algotrade.strategies"
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
_NOT_STRATEGY_MODULES = frozenset({"base", "registry"})

S = TypeVar("S", bound=type[Strategy[Any]])


class UnknownStrategy(NotFound):
    code = "unknown_strategy"


class InvalidStrategyParams(Unprocessable):
    """Parameters that do not fit a strategy's model; ``details`` name each wrong field."""

    code = "invalid_strategy_params"


class StrategyRegistrationError(Exception):
    """A strategy class that cannot be registered (bad name, duplicate, bad parameter model)."""


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    """What the catalog shows for one strategy."""

    name: str
    title: str
    description: str
    timeframes: tuple[str, ...]
    warmup: int
    defaults: dict[str, Any]
    params_schema: dict[str, Any]


class StrategyRegistry:
    """Strategy classes by name; built-ins and entry points are loaded on first use."""

    def __init__(
        self,
        *,
        package: str | None = __package__,
        entry_point_group: str | None = ENTRY_POINT_GROUP,
    ) -> None:
        self._classes: dict[str, type[Strategy[Any]]] = {}
        self._package = package
        self._group = entry_point_group
        self._loaded = False
        self._lock = threading.RLock()

    def register(self, cls: S) -> S:
        """Class decorator: add a strategy under its ``name``."""
        _check_strategy_class(cls)
        with self._lock:
            existing = self._classes.get(cls.name)
            if existing is not None and _identity(existing) != _identity(cls):
                raise StrategyRegistrationError(
                    f"strategy name {cls.name!r} is taken by {existing.__module__}."
                    f"{existing.__qualname__}"
                )
            self._classes[cls.name] = cls
        return cls

    def get(self, name: str) -> type[Strategy[Any]]:
        """The strategy class called ``name``."""
        self._ensure_loaded()
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownStrategy(f"no strategy named {name!r}") from None

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._classes)

    def infos(self) -> list[StrategyInfo]:
        """Every strategy with its description, timeframes, defaults and JSON Schema."""
        return [self.info(name) for name in self.names()]

    def info(self, name: str) -> StrategyInfo:
        cls = self.get(name)
        defaults = cls.params_model()
        return StrategyInfo(
            name=cls.name,
            title=cls.title or human_title(cls.name),
            description=cls.description,
            timeframes=tuple(tf.value for tf in sorted(cls.timeframes, key=_tf_order)),
            warmup=cls(defaults).warmup,
            defaults=defaults.model_dump(mode="json"),
            params_schema=cls.params_schema(),
        )

    def validate_params(self, name: str, params: Mapping[str, Any] | None) -> StrategyParams:
        """Validated parameters, or :class:`InvalidStrategyParams` naming each wrong field."""
        try:
            cls = self.get(name)
        except UnknownStrategy as exc:
            raise InvalidStrategyParams(
                exc.message, details=[{"field": "strategy", "message": exc.message}]
            ) from None
        if params is not None and not isinstance(params, Mapping):
            message = "parameters must be an object"
            raise InvalidStrategyParams(message, details=[{"field": "params", "message": message}])
        try:
            return cls.params_model.model_validate(dict(params or {}))
        except ValidationError as exc:
            details = [
                {
                    "field": ".".join(["params", *(str(p) for p in err["loc"])]),
                    "message": err["msg"],
                }
                for err in exc.errors()
            ]
            summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
            raise InvalidStrategyParams(
                f"invalid parameters for strategy {name!r}: {summary}", details=details
            ) from None

    def build(self, name: str, params: Mapping[str, Any] | None = None) -> Strategy[Any]:
        """A ready strategy instance from raw parameters (validated here)."""
        return self.get(name)(self.validate_params(name, params))

    def load_entry_points(self) -> list[str]:
        """Import every plug-in of the entry point group; returns the names it registered."""
        if self._group is None:
            return []
        before = set(self._classes)
        for ep in entry_points(group=self._group):
            try:
                obj = ep.load()
                if isinstance(obj, type) and issubclass(obj, Strategy):
                    self.register(obj)
            except Exception:
                # A broken plug-in must not take the built-in catalog down with it.
                log.exception("strategy plug-in %s (%s) failed to load", ep.name, ep.value)
        return sorted(set(self._classes) - before)

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            if self._package is not None:
                # Importing runs each module's @register (for the default registry);
                # registering the classes found covers any other registry instance too.
                for cls in _builtin_classes(self._package):
                    self.register(cls)
            self.load_entry_points()


def _builtin_classes(package_name: str) -> list[type[Strategy[Any]]]:
    """Concrete strategy classes defined in the modules of ``package_name``."""
    package = importlib.import_module(package_name)
    found: list[type[Strategy[Any]]] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.name in _NOT_STRATEGY_MODULES:
            continue
        module = importlib.import_module(f"{package_name}.{info.name}")
        found.extend(
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, Strategy)
            and obj.__module__ == module.__name__
            and not inspect.isabstract(obj)
        )
    return found


def _check_strategy_class(cls: type[Strategy[Any]]) -> None:
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise StrategyRegistrationError(
            f"{cls.__qualname__}: name must match {_NAME.pattern}, got {name!r}"
        )
    if not getattr(cls, "description", "").strip():
        raise StrategyRegistrationError(f"{name}: a description is required")
    model = getattr(cls, "params_model", None)
    if not (isinstance(model, type) and issubclass(model, StrategyParams)):
        raise StrategyRegistrationError(f"{name}: params_model must subclass StrategyParams")
    if model.model_config.get("extra") != "forbid":
        raise StrategyRegistrationError(f"{name}: params_model must forbid unknown fields")
    try:
        model()
    except ValidationError as exc:
        raise StrategyRegistrationError(f"{name}: every parameter needs a default") from exc
    if not cls.timeframes:
        raise StrategyRegistrationError(f"{name}: supports no timeframe")


def _identity(cls: type) -> tuple[str, str]:
    # Re-importing a module (reload, entry point that is also a built-in) is not a clash.
    return cls.__module__, cls.__qualname__


def _tf_order(tf: Timeframe) -> int:
    return list(Timeframe).index(tf)


registry = StrategyRegistry()
register = registry.register


def get_strategy(name: str) -> type[Strategy[Any]]:
    """The strategy class called ``name`` (:class:`UnknownStrategy` if none)."""
    return registry.get(name)


def list_strategies() -> list[StrategyInfo]:
    """The catalog: name, description, timeframes, warm-up, defaults and JSON Schema of each."""
    return registry.infos()


def validate_params(name: str, params: Mapping[str, Any] | None) -> StrategyParams:
    """Validate raw parameters for ``name``; :class:`InvalidStrategyParams` names wrong fields."""
    return registry.validate_params(name, params)


def build_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy[Any]:
    """A strategy instance bound to validated parameters."""
    return registry.build(name, params)
