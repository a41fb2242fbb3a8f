"""A photo we might download: what a source said about it, before any byte is fetched.

Every source (Flickr's search and feed, Openverse, Wikimedia Commons, iNaturalist) describes its
photos in these fields, so downloading, the checks, provenance and credits are written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from .licenses import License, short_name


@dataclass(frozen=True)
class Candidate:
    #: the file stem in the dataset: the Flickr id for a Flickr photo whatever the route (so the same
    #: photo found through Openverse is the same file), else `<source>-<the source's id>`
    photo_id: str
    owner: str
    owner_name: str
    title: str
    license: License
    #: (size, url) in the order to try them; the first that is served is kept.
    urls: tuple[tuple[str, str], ...]
    #: the service it came from (`flickr`, `feed`, `openverse`, `commons`, `inaturalist`) and its id there
    source: str = "flickr"
    source_id: str = ""
    #: the landing page a credit links to; a Flickr photo's page when empty
    landing_url: str = ""
    #: the ready credit line, when the source gives one
    attribution: str = ""
    #: source-specific provenance (iNaturalist's observation and taxon, Openverse's provider), as pairs
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def page_url(self) -> str:
        return self.landing_url or f"https://www.flickr.com/photos/{self.owner}/{self.photo_id}"

    @property
    def credit(self) -> str:
        """The credit line CC licences ask for: the source's own, else title, creator, licence, link."""
        if self.attribution:
            return self.attribution
        licence = short_name(self.license.code, self.license.version) if self.license.code else (self.license.name or "unknown licence")
        return f'"{self.title or "untitled"}" by {self.owner_name or self.owner or "unknown"}, {licence}, {self.page_url}'
