"""The labels of a run as the user wrote them: `LABEL` or `LABEL=QUERY`.

Why a query apart from the label: the folder name is what the model will answer ("sunflower"),
while the best search is often another wording, a scientific name for iNaturalist
("sunflower=Helianthus annuus"), or one exact taxon (`sunflower=taxon:47148`). So a label name
cannot contain `=`; the first `=` splits the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from retrainkit.dataset_layout import label_name_problem

from .errors import CollectError

TAXON_PREFIX = "taxon:"


@dataclass(frozen=True)
class LabelQuery:
    label: str
    query: str

    @property
    def names_a_taxon(self) -> bool:
        return self.query.lower().startswith(TAXON_PREFIX)


def parse_labels(labels: Iterable[str] | str) -> list[LabelQuery]:
    """Checked labels in the order given, each once; raises CollectError for one that cannot be a folder."""
    if isinstance(labels, str):
        labels = [labels]
    parsed: dict[str, LabelQuery] = {}
    for text in labels:
        label, _, query = str(text).partition("=")
        label, query = label.strip(), " ".join(query.split()) or label.strip()
        check_label(label, str(text))
        if query.lower().startswith(TAXON_PREFIX) and not query[len(TAXON_PREFIX):].strip().isdigit():
            raise CollectError(f"{text!r}: taxon: takes an iNaturalist taxon number, e.g. sunflower=taxon:47148")
        earlier = parsed.get(label)
        if earlier is not None and earlier.query != query:
            raise CollectError(f"label {label!r} is given twice with different queries ({earlier.query!r}, {query!r})")
        parsed[label] = LabelQuery(label, query)
    if not parsed:
        raise CollectError("no labels given: e.g. collect rose sunflower --count 20")
    return list(parsed.values())


def check_label(label: str, as_written: str) -> None:
    if not label:
        if "=" in as_written:
            raise CollectError(f"{as_written!r}: a label cannot contain '='; write LABEL=QUERY, e.g. sunflower=Helianthus annuus")
        raise CollectError(f"empty label in {as_written!r}: give each label as a word, e.g. collect rose tulip")
    problem = label_name_problem(label)
    if problem:
        raise CollectError(f"label {label!r} cannot be a folder name: {problem}")
