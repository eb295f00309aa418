"""Fake GitHub and PainChain backend servers (real HTTP on 127.0.0.1) for end-to-end tests."""

from ._server import RecordedRequest
from .backend import FakeBackend, StoredEvent
from .github import FakeGitHub, RepoData, TokenSpec
from .limits import SecondaryLimits

__all__ = ["FakeBackend", "FakeGitHub", "RecordedRequest", "RepoData", "SecondaryLimits", "StoredEvent", "TokenSpec"]
