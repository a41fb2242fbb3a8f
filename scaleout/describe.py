"""Read a file from any Beam filesystem and describe it with curate's own per-image function.

Pure functions of the file's bytes: a bundle that Beam retries (a worker killed mid-way) computes
the same records again, and the Parquet sink commits each shard once, so a retry duplicates nothing.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from curate.decode import inspect_bytes, unreadable_record
from curate.record import ImageRecord

from .listing import TreeFile

#: The tagged output of records that will get no vector (their problem says why).
BAD = "bad"


def read_and_describe(file: TreeFile) -> tuple[ImageRecord, bytes | None]:
    """(curate's record, the bytes when the record is ok). A file that cannot be opened or read
    (gone since the listing, no permission) is a record with problem "unreadable", never an error."""
    try:
        # UNCOMPRESSED: Beam would otherwise gunzip a file named *.gz, and we describe the file itself
        with FileSystems.open(file.url, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            data = handle.read()
    except OSError:  # BeamIOError is an OSError too
        return unreadable_record(file.path), None
    record = inspect_bytes(file.path, data, file.mtime_ns, file.url)
    return record, (data if record.ok else None)


class DescribeFiles(beam.DoFn):
    """TreeFile -> (record, bytes) for photos the backbone should see; tagged BAD -> record otherwise."""

    def process(self, file: TreeFile):
        record, data = read_and_describe(file)
        if data is None:
            yield beam.pvalue.TaggedOutput(BAD, record)
        else:
            yield record, data
