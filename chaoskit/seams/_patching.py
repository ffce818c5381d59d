"""The lifecycle shared by seams that patch a client library's classes (requests, aiohttp)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ._player import Answerer

__all__ = ["PatchingSeam"]


class PatchingSeam(ABC):
    """Patches attributes for as long as it is entered; exit restores them, innermost last.

    Subclasses list their patches in ``patch()`` and read the innermost entered router from
    their own ``routers`` list (one per subclass, so two libraries never share one).
    """

    routers: ClassVar[list[Answerer]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.routers = []

    def __init__(self, router: Answerer) -> None:
        self.router = router
        self._restore: list[Callable[[], None]] = []

    @abstractmethod
    def patch(self) -> None:
        """Install this seam's patches with :meth:`_patch`; may install none (and warn why)."""

    def __enter__(self) -> PatchingSeam:
        try:
            self.patch()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        type(self).routers.append(self.router)
        return self

    def __exit__(self, *exc: object) -> None:
        routers = type(self).routers
        if self.router in routers:
            routers.remove(self.router)
        while self._restore:
            self._restore.pop()()

    def _patch(self, owner: type, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, make(original))
        self._restore.append(lambda: setattr(owner, name, original))
