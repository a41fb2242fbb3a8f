"""Every default is written once, in the settings dataclasses: config.example.toml and each command's
--help say the same values (a default changed in one place and not the others fails here)."""

from __future__ import annotations

import argparse
import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from collector.cli import build_parser as collect_parser
from collector.config import CollectSettings, CommonsSettings, FlickrSettings, INaturalistSettings, OpenverseSettings
from curate.cli import build_parser as curate_parser
from curate.settings import CurateSettings
from train.cli import build_train_parser
from train.settings import TrainSettings

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {"flickr": FlickrSettings, "openverse": OpenverseSettings, "commons": CommonsSettings, "inaturalist": INaturalistSettings,
            "collect": CollectSettings, "curate": CurateSettings, "train": TrainSettings}


def _defaults(settings_class) -> dict[str, object]:
    return {f.name: f.default for f in dataclasses.fields(settings_class)}


def test_the_example_settings_file_holds_every_key_at_its_default():
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    assert set(example) == set(SECTIONS), "a section is missing or no command reads it"
    for section, settings_class in SECTIONS.items():
        assert example[section] == _defaults(settings_class), section


def _help_defaults(parser: argparse.ArgumentParser) -> dict[str, str]:
    """option dest -> the value its help text gives as "(default V" (first word)."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.update(_help_defaults(sub))
            continue
        said = re.search(r"\(default:? ([^,;:)\s]+)", action.help or "")
        if said:
            found[action.dest] = said.group(1)
    return found


@pytest.mark.parametrize(("parser", "settings_class"), [(collect_parser, CollectSettings), (curate_parser, CurateSettings),
                                                         (build_train_parser, TrainSettings)])
def test_each_help_text_gives_the_settings_default(parser, settings_class):
    defaults = _defaults(settings_class)
    compared = 0
    for dest, said in _help_defaults(parser()).items():
        if dest not in defaults or isinstance(defaults[dest], str) and not defaults[dest]:
            continue  # an option with no setting behind it, or an empty default the help words ("a free one")
        default = defaults[dest]
        if isinstance(default, bool | str):
            assert said == str(default).lower() if isinstance(default, bool) else said == default, (dest, said, default)
        else:
            assert float(said) == float(default), (dest, said, default)
        compared += 1
    assert compared >= 3, "the help texts no longer say their defaults"
