"""The shards a run leaves behind: which exist, the stale ones of the run before, and what they hold."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from apache_beam.io.filesystems import FileSystems

from retrainkit.shards import SUFFIX, read_rows


@dataclass
class EmbedResult:
    #: the shard files written, sorted
    shards: list[str]
    files: int
    vectors: int
    #: problem -> files (curate's problems, and why the backbone could not take a file)
    problems: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self, dataset: str = "DATASET") -> str:
        bad = ", ".join(f"{count} {problem}" for problem, count in sorted(self.problems.items()))
        pattern = self.shards[0].rsplit("-", 3)[0] + f"-*{SUFFIX}" if self.shards else ""
        return (f"{self.files} files: {self.vectors} vectors" + (f"; no vector for {bad}" if bad else "")
                + f".\nShards: {pattern} ({len(self.shards)} files) in {self.seconds:.0f} s.\n"
                + f"Use them: train {dataset} --features '{pattern}'   (or curate review {dataset} --records '{pattern}')")


def remove_empty_temp_folders(prefix: str) -> None:
    """The DirectRunner's Parquet sink leaves its emptied beam-temp-* folder beside local shards."""
    if "://" in prefix:
        return
    folder, name = os.path.split(prefix)
    for entry in os.scandir(folder or "."):
        if entry.is_dir() and entry.name.startswith(f"beam-temp-{name}-"):
            try:
                os.rmdir(entry.path)
            except OSError:
                continue  # not empty: another run's, or a failed run's files; not ours to remove


def existing_shards(prefix: str) -> dict[str, float]:
    try:
        found = FileSystems.match([f"{prefix}-*-of-*{SUFFIX}"])[0].metadata_list
    except (OSError, IndexError):  # no match is an error on some filesystems
        return {}
    return {m.path: m.last_updated_in_seconds for m in found}


def summarise(shards: list[str]) -> EmbedResult:
    problems: Counter[str] = Counter()
    files = vectors = 0
    for name in shards:
        for columns in read_rows(name, ("problem", "vector_problem")):
            for problem, why in zip(columns["problem"], columns["vector_problem"]):
                files += 1
                if problem:
                    problems[problem] += 1
                elif why:
                    problems[why] += 1
                else:
                    vectors += 1
    return EmbedResult(shards, files, vectors, dict(problems))
