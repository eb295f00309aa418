"""What repository discovery keeps between runs (pure models, no I/O).

A :class:`DiscoveryCache` lives in the state entry ``{tenant or -}/{integration id}/*/*``
(field ``discovery`` of :class:`~painchain_gh.cursor.RepoState`): the pages of each listing
with their ETags, so that an unchanged organisation costs no rate-limit unit, and the
repositories that disappeared with the time they were first missed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PER_PAGE = 100
MAX_PAGES = 200  # 20,000 repositories, the most one source lists (the run says so when it stops there)
URL_MAX = 2000  # a page link longer than this is not kept (the listing stops there, and says so)


class CachedPage(BaseModel):
    """One page of a discovery list as last seen: its URL, ETag and the repositories kept from it."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(max_length=URL_MAX)
    etag: str | None = Field(default=None, max_length=200)
    repositories: tuple[str, ...] = Field(default=(), max_length=PER_PAGE)


class SourceCache(BaseModel):
    """One discovery source (the installation, or one owner) as last listed."""

    model_config = ConfigDict(frozen=True)

    api_url: str = Field(max_length=500)
    pages: tuple[CachedPage, ...] = Field(default=(), max_length=MAX_PAGES)
    listed_at: float = 0.0
    resume: int | None = Field(
        default=None, ge=1, lt=MAX_PAGES, description="pages of an unfinished pass already read (the first ones)"
    )
    resume_url: str | None = Field(default=None, max_length=URL_MAX, description="the page the next run reads first")

    @property
    def repositories(self) -> list[str]:
        """Every repository of every page, in order."""
        return [name for page in self.pages for name in page.repositories]


class DiscoveryCache(BaseModel):
    """What discovery keeps between runs for one integration (a state store holds it as JSON).

    ``sources`` is keyed ``"installation"`` or ``"owner:<login in lower case>"``; ``gone`` maps a
    repository (``owner/name`` in lower case) to the epoch second it was first missed.
    """

    model_config = ConfigDict(frozen=True)

    version: int = 1
    sources: dict[str, SourceCache] = Field(default_factory=dict, max_length=1000)
    gone: dict[str, float] = Field(default_factory=dict, max_length=50_000)

    def repositories(self) -> list[str]:
        """Every repository of every source, without duplicates (case-insensitive)."""
        seen: dict[str, str] = {}
        for name in (name for source in self.sources.values() for name in source.repositories):
            seen.setdefault(name.lower(), name)
        return list(seen.values())
