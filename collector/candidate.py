"""A photo we might download: what the search said about it, before any byte is fetched."""

from __future__ import annotations

from dataclasses import dataclass

from .licenses import License


@dataclass(frozen=True)
class Candidate:
    photo_id: str
    owner: str
    owner_name: str
    title: str
    license: License
    #: (size letter, url) in the order to try them; the first that is served is kept.
    urls: tuple[tuple[str, str], ...]

    @property
    def page_url(self) -> str:
        return f"https://www.flickr.com/photos/{self.owner}/{self.photo_id}"
