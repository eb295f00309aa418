"""The container images stream of one package owner (organization or user), opt-in.

``GET /orgs/{org}/packages?package_type=container`` (``/users/{user}/packages`` when the owner
is not an organization) is conditional; versions (``.../packages/container/{name}/versions``) are
read only for packages whose ``updated_at`` moved. New *tagged* versions become events.
Versions are read page after page (``Link: next``, newest first) until a page reaches a version
already sent or older than the floor; a user's versions with the parameters GitHub documents for
that endpoint (no ``per_page``).
The cursor is per owner, not per repository. See https://docs.github.com/en/rest/packages/packages
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from painchain_gh.cursor import NAME_MAX, ImagesCursor, is_new_image, mark_image, package_changed
from painchain_gh.errors import GitHubRepoError, GitHubTemporaryError
from painchain_gh.github.client import PER_PAGE, GitHubClient, Page
from painchain_gh.streams.enrich import RequestCounts
from painchain_gh.timeutil import parse_time
from painchain_gh.transform.common import PainChainEvent, RepoContext, Skip, as_dict, as_int, as_str
from painchain_gh.transform.images import package_context, to_image_event

MAX_PACKAGE_PAGES = 3
MAX_VERSION_PAGES = 5
OWNER_KINDS = ("orgs", "users")
QUERY = {"package_type": "container"}


@dataclass(frozen=True)
class ImageItem:
    """One event to forward; after the backend acknowledges it, pass it to :func:`acknowledge`."""

    event: PainChainEvent
    version_id: str
    created: int


@dataclass
class ImagesFetched:
    """What one poll of an owner's container packages found."""

    items: list[ImageItem] = field(default_factory=list)
    settled: dict[str, str] = field(default_factory=dict)  # package name -> updated_at
    etag: str | None = None
    owner_kind: str | None = None
    not_modified: bool = False
    complete: bool = True
    warning: str | None = None


def fetch_images(
    client: GitHubClient,
    owner: str,
    cursor: ImagesCursor,
    *,
    integration_id: str,
    web_url: str,
    etag: str | None,
    counts: RequestCounts,
) -> ImagesFetched:
    """New tagged container versions of ``owner``, oldest first (``cursor.floor`` must be set)."""
    fetched = ImagesFetched()
    kinds = [cursor.owner_kind] if cursor.owner_kind in OWNER_KINDS else list(OWNER_KINDS)
    packages: list[dict[str, Any]] = []
    for position, kind in enumerate(kinds):
        try:
            pages = _list_packages(client, f"/{kind}/{owner}/packages", etag, counts)
        except GitHubRepoError:
            counts.add("packages")  # the refused request was spent too
            if position + 1 < len(kinds):
                continue  # 404: not an organization, try the user
            raise
        fetched.owner_kind = kind
        if pages and pages[0].status == 304:
            return ImagesFetched(etag=etag, owner_kind=kind, not_modified=True)
        fetched.etag = pages[0].etag if pages else None
        packages = [item for page in pages for item in page.items if isinstance(item, dict)]
        break
    for package in packages:
        name, updated = as_str(package.get("name")), (as_str(package.get("updated_at")) or "")[:40]
        if name is None or len(name) > NAME_MAX or not package_changed(cursor, name, updated):
            continue  # a name longer than any registry allows is no package the cursor can remember
        path = f"/{fetched.owner_kind}/{owner}/packages/container/{quote(name, safe='')}/versions"
        ctx = package_context(package, owner=owner, integration_id=integration_id, web_url=web_url)
        try:
            for page in _version_pages(client, path, user_owned=fetched.owner_kind == "users", counts=counts):
                fetched.items.extend(_new_images(page, package, owner=owner, ctx=ctx, cursor=cursor))
                if _reaches_known(page, cursor):
                    break  # versions are listed newest first: the next pages were all seen
        except (GitHubRepoError, GitHubTemporaryError) as error:
            counts.add("package_versions")  # the refused request was spent too
            counts.fail("package_versions")
            fetched.complete, fetched.warning = False, f"versions of {name} not readable: {error}"
            continue
        fetched.settled[name] = updated
    fetched.items.sort(key=lambda item: item.event.sort_key)
    return fetched


def _version_pages(client: GitHubClient, path: str, *, user_owned: bool, counts: RequestCounts) -> Iterator[list[Any]]:
    """Pages of a package's versions, newest first, at most :data:`MAX_VERSION_PAGES`. A user's
    package is asked with the parameters GitHub documents for it (none: GitHub's page size), an
    organization's with ``per_page=100``; both follow ``Link: next``."""
    pages = client.iter_query_pages(path, {}, etag=None, per_page=None if user_owned else PER_PAGE)
    for number, page in enumerate(pages, start=1):
        counts.add("package_versions")
        yield page.items
        if not page.next_url or number >= MAX_VERSION_PAGES:
            return


def _new_images(
    versions: list[Any], package: dict[str, Any], *, owner: str, ctx: RepoContext, cursor: ImagesCursor
) -> list[ImageItem]:
    """The tagged versions of one page not sent yet."""
    found: list[ImageItem] = []
    for version in versions:
        built = to_image_event(package, as_dict(version), owner=owner, ctx=ctx)
        if isinstance(built, Skip):
            continue
        version_id = str(as_int(as_dict(version).get("id")))
        created = built.sort_key[0]
        if is_new_image(cursor, version_id, created):
            found.append(ImageItem(built, version_id, created))
    return found


def _reaches_known(versions: list[Any], cursor: ImagesCursor) -> bool:
    """Whether a page holds a version already sent or created at or before the floor."""
    for version in versions:
        identifier = as_int(as_dict(version).get("id"))
        created = parse_time(as_dict(version).get("created_at"))
        if str(identifier) in cursor.versions or (
            created is not None and cursor.floor is not None and created <= cursor.floor
        ):
            return True
    return False


def _list_packages(client: GitHubClient, path: str, etag: str | None, counts: RequestCounts) -> list[Page]:
    pages: list[Page] = []
    for number, page in enumerate(client.iter_query_pages(path, QUERY, etag=etag), start=1):
        counts.add("packages")
        pages.append(page)
        if page.status == 304 or not page.next_url or number >= MAX_PACKAGE_PAGES:
            break
    return pages


def acknowledge(cursor: ImagesCursor, item: ImageItem) -> None:
    """Record ``item`` as sent (after the backend acknowledged it)."""
    mark_image(cursor, item.version_id, item.created)


def settle(cursor: ImagesCursor, fetched: ImagesFetched, *, fingerprint: str) -> None:
    """After every item was acknowledged: remember each package's ``updated_at`` and the ETag."""
    cursor.packages.update(fetched.settled)
    cursor.owner_kind = fetched.owner_kind or cursor.owner_kind
    if fetched.complete and not fetched.not_modified:
        cursor.etag, cursor.etag_owner = fetched.etag, fingerprint
