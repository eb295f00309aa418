"""Container package versions (``GET /orgs/{org}/packages/container/{name}/versions``) to events.

A version's ``name`` is the image digest; its tags are ``metadata.container.tags``. Only tagged
versions become events (``Image published: ghcr.io/<owner>/<name>:<tag>``). On GitHub Enterprise
Server the registry is ``containers.HOST`` (the instance's host, subdomain isolation on, as GitHub
recommends): https://docs.github.com/en/enterprise-server@3.17/packages/working-with-a-github-packages-registry/working-with-the-container-registry
https://docs.github.com/en/rest/packages/packages
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from painchain_gh.timeutil import format_time, parse_time
from painchain_gh.transform.common import (
    PainChainEvent,
    RepoContext,
    Skip,
    as_dict,
    as_int,
    as_str,
    as_url,
    base_data,
    login,
)

_MAX_TAGS = 20
REGISTRY = "ghcr.io"


def registry_host(web_url: str) -> str:
    """``ghcr.io`` for github.com; ``containers.HOST`` for a GitHub Enterprise Server at ``https://HOST``."""
    host = urlsplit(web_url).hostname or ""
    if not host or host in ("github.com", "www.github.com"):
        return REGISTRY
    return f"containers.{host}"


def image_tags(version: Mapping[str, Any]) -> list[str]:
    """The version's tags (bounded), empty when untagged or malformed."""
    tags = as_dict(as_dict(as_dict(version).get("metadata")).get("container")).get("tags")
    if not isinstance(tags, list):
        return []
    return [tag[:128] for tag in tags if isinstance(tag, str) and tag][:_MAX_TAGS]


def package_context(package: Mapping[str, Any], *, owner: str, integration_id: str, web_url: str) -> RepoContext:
    """The PainChain project of a package: its linked repository, else ``owner/<package name>``."""
    repository = as_dict(as_dict(package).get("repository"))
    full_name = as_str(repository.get("full_name")) or ""
    repo_owner, _, repo_name = full_name.partition("/")
    if repo_owner and repo_name:
        return RepoContext(owner=repo_owner, repo=repo_name, integration_id=integration_id, web_url=web_url)
    name = as_str(as_dict(package).get("name")) or "unknown"
    return RepoContext(owner=owner, repo=name, integration_id=integration_id, web_url=web_url)


def to_image_event(
    package: Mapping[str, Any], version: Mapping[str, Any], *, owner: str, ctx: RepoContext
) -> PainChainEvent | Skip:
    """One event for a tagged container version; untagged versions are skipped."""
    if not isinstance(package, Mapping) or not isinstance(version, Mapping):
        return Skip("malformed")
    name = as_str(package.get("name"))
    version_id = as_int(version.get("id"))
    created = parse_time(version.get("created_at")) or parse_time(version.get("updated_at"))
    if name is None or version_id is None or created is None:
        return Skip("malformed")
    tags = image_tags(version)
    if not tags:
        return Skip("ignored:image.untagged")
    image = f"{registry_host(ctx.web_url)}/{owner.lower()}/{name.lower()}"
    external_id = f"github-image-{version_id}"
    url = (
        as_url(version.get("html_url"))
        or as_url(version.get("package_html_url"))
        or as_url(package.get("html_url"))
        or ctx.repo_url
    )
    author = login(package.get("owner")) or owner
    data: dict[str, Any] = base_data(
        event_type="image", action="published", author=author, url=url, external_id=external_id, ctx=ctx
    )
    data.update(
        {
            "package": name[:200],
            "image": image,
            "tags": tags,
            "digest": (as_str(version.get("name")) or "")[:100] or None,
            "version_id": version_id,
            "created_at": format_time(created),
        }
    )
    return ctx.event(
        title=f"Image published: {image}:{tags[0]}",
        moment=created,
        external_id=external_id,
        data=data,
        tiebreak=version_id,
    )
