"""Typed descriptors that make a blocking method out of an async one.

``get_profile = blocking(AsyncClient.get_profile)`` in a facade class gives a
method with the async method's parameters (``ParamSpec``, so mypy --strict checks
every argument and the return type), its name and docstring
(``functools.wraps``), that runs the coroutine on the facade's loop thread and
returns its result. :func:`blocking_as` converts the result (a ``Trade`` into a
``SyncTrade``), :func:`streaming` turns a ``Stream`` into a :class:`SyncStream`,
and :func:`direct` calls a plain (non-async) method as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from iqwire.client.streams import Stream
from iqwire.sync.loop import EventLoopThread
from iqwire.sync.streams import SyncStream

__all__ = ["Facade", "blocking", "blocking_as", "direct", "direct_as", "mirrored", "streaming"]

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


class Facade(Protocol):
    """A blocking object over an async one: ``_target`` runs on ``_runner``'s loop."""

    @property
    def _target(self) -> Any: ...

    @property
    def _runner(self) -> EventLoopThread: ...

    def _call(self, fn: Callable[P, Coroutine[Any, Any, T]], /, *args: P.args, **kwargs: P.kwargs) -> T: ...


class _Method(Generic[P, R]):
    """A facade method made from the async method ``name`` of the facade's target."""

    def __init__(self, method: Callable[..., Any], make: Callable[[Facade, Any], Callable[P, R]]) -> None:
        functools.update_wrapper(self, method)
        self._name = method.__name__
        self._make = make

    @overload
    def __get__(self, facade: None, owner: type) -> _Method[P, R]: ...

    @overload
    def __get__(self, facade: Facade, owner: type) -> Callable[P, R]: ...

    def __get__(self, facade: Facade | None, owner: type) -> _Method[P, R] | Callable[P, R]:
        if facade is None:
            return self
        target = getattr(facade._target, self._name)
        call = self._make(facade, target)
        return call if call is target else functools.wraps(target)(call)

    def __call__(self, facade: Facade, *args: P.args, **kwargs: P.kwargs) -> R:
        bound: Callable[P, R] = self.__get__(facade, type(facade))
        return bound(*args, **kwargs)


def blocking(method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> _Method[P, T]:
    """A blocking method that runs the coroutine method on the loop thread and returns its result."""

    def make(facade: Facade, target: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return facade._call(target, *args, **kwargs)

        return call

    return _Method(method, make)


def blocking_as(
    method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]], convert: Callable[[EventLoopThread, T], R]
) -> _Method[P, R]:
    """As :func:`blocking`, the result passed through ``convert(runner, result)``."""

    def make(facade: Facade, target: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, R]:
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return convert(facade._runner, facade._call(target, *args, **kwargs))

        return call

    return _Method(method, make)


def streaming(method: Callable[Concatenate[Any, P], Stream[T]]) -> _Method[P, SyncStream[T]]:
    """A method returning a blocking :class:`SyncStream` over the async method's stream."""

    def make(facade: Facade, target: Callable[P, Stream[T]]) -> Callable[P, SyncStream[T]]:
        def call(*args: P.args, **kwargs: P.kwargs) -> SyncStream[T]:
            return SyncStream(facade._runner, target(*args, **kwargs))

        return call

    return _Method(method, make)


def direct(method: Callable[Concatenate[Any, P], T]) -> _Method[P, T]:
    """A plain method of the target, called as it is (it reads state, no round trip)."""

    def make(facade: Facade, target: Callable[P, T]) -> Callable[P, T]:
        return target

    return _Method(method, make)


def direct_as(
    method: Callable[Concatenate[Any, P], T], convert: Callable[[EventLoopThread, T], R]
) -> _Method[P, R]:
    """As :func:`direct`, the result passed through ``convert(runner, result)``."""

    def make(facade: Facade, target: Callable[P, T]) -> Callable[P, R]:
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return convert(facade._runner, target(*args, **kwargs))

        return call

    return _Method(method, make)


class _Mirror(Generic[T]):
    """A read-only attribute that reads the same property of the facade's target."""

    def __init__(self, prop: Any) -> None:
        self._name: str = prop.fget.__name__
        self.__doc__ = prop.__doc__
        self._property = property(lambda facade: getattr(facade._target, self._name), doc=prop.__doc__)

    @overload
    def __get__(self, facade: None, owner: type) -> property: ...

    @overload
    def __get__(self, facade: object, owner: type) -> T: ...

    def __get__(self, facade: object | None, owner: type) -> property | T:
        if facade is None:
            return self._property
        value: T = getattr(getattr(facade, "_target"), self._name)  # noqa: B009 - the Facade protocol's member
        return value


def mirrored(prop: Callable[[Any], T]) -> _Mirror[T]:
    """A property of the facade that reads the target's property ``prop`` (no loop round trip).

    ``prop`` is the async class's property (``AsyncClient.state``); mypy sees it
    as a getter, so the facade's attribute has the getter's type.
    """
    return _Mirror(prop)
