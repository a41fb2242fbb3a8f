"""The `collect` command: exit codes, one-line errors, the summary, config and environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from collector.cli import main
from tests.fake_flickr import API_KEY, API_SECRET


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("FLICKR_API_KEY", API_KEY)
    monkeypatch.setenv("FLICKR_API_SECRET", API_SECRET)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main([*argv, "--quiet", "--retries", "1", "--timeout", "2"])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("collect: ")
    assert "Traceback" not in err
    assert API_SECRET not in err
    for needle in needles:
        assert needle in lines[0]


def test_prints_the_summary_table_and_exits_0(fake, keys, capsys, dataset):
    fake.add("rose", 4)
    fake.add("tulip", 1)
    code, out, _ = run_cli(capsys, "rose", "tulip", "--count", "3", "--out", str(dataset), "--endpoint", fake.rest_url)
    assert code == 0
    header, rule, rose, tulip = out.splitlines()[:4]
    assert header.split() == ["label", "requested", "have", "new", "existing", "sources", "failed", "copies", "conflicts"]
    assert rose.split()[:4] == ["rose", "3", "3", "3"]
    assert tulip.split()[:4] == ["tulip", "3", "1", "1"]
    assert "tulip: only 1 of 3 photos" in out
    assert f"{dataset}/<label>/" in out and "ATTRIBUTION.md" in out


def test_invalid_key_is_one_line_without_the_secret(fake, monkeypatch, capsys, dataset):
    monkeypatch.setenv("FLICKR_API_KEY", "wrong-key")
    monkeypatch.setenv("FLICKR_API_SECRET", API_SECRET)
    code, _, err = run_cli(capsys, "rose", "--out", str(dataset), "--endpoint", fake.rest_url)
    assert_one_line_error(code, err, "error 100", "FLICKR_API_KEY")


def test_flickr_with_no_key_says_what_to_do_and_writes_nothing(fake, capsys, dataset):
    code, _, err = run_cli(capsys, "rose", "--source", "flickr", "--out", str(dataset), "--endpoint", fake.rest_url)
    assert_one_line_error(code, err, "needs an API key", "FLICKR_API_KEY", "--source openverse,commons")
    assert not dataset.exists()
    assert not fake.rest_calls


def test_no_network_is_one_line(keys, capsys, dataset):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    code, _, err = run_cli(capsys, "rose", "--out", str(dataset), "--endpoint", f"http://127.0.0.1:{closed_port}/services/rest/")
    assert_one_line_error(code, err, "cannot reach Flickr")


def test_unwritable_output_folder_is_one_line(fake, keys, capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = run_cli(capsys, "rose", "--out", str(blocker / "dataset"), "--endpoint", fake.rest_url)
    assert_one_line_error(code, err, "cannot write to output folder", "--out")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["", "--count", "3"], "empty label"),
        (["   ", "--count", "3"], "empty label"),
        (["rose", "--count", "-3"], "--count must be at least 1"),
        (["rose", "--count", "0"], "--count must be at least 1"),
        (["rose", "--count", "many"], "invalid int value"),
        (["../etc", "--count", "3"], "cannot be a folder name"),
        (["rose", "--license", "free-ish"], "--license"),
        (["rose", "--size", "huge"], "--size"),
        (["rose", "--workers", "0"], "--workers must be at least 1"),
        (["rose", "--sort", "random"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(fake, keys, capsys, dataset, argv, needle):
    code, _, err = run_cli(capsys, *argv, "--out", str(dataset), "--endpoint", fake.rest_url)
    assert_one_line_error(code, err, needle)
    assert not fake.rest_calls


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["rose", "--source", "pinterest"], "unknown source 'pinterest'"),
        (["rose", "--source", "auto,commons"], "auto stands alone"),
        (["sunflower=taxon:abc", "--source", "inaturalist"], "taxon: takes an iNaturalist taxon number"),
        (["sunflower=taxon:47148", "--source", "openverse"], "add --source inaturalist"),
        (["rose", "--source", "openverse,commons", "--license", "4,9"], "Flickr licence ids work with --source flickr only"),
        (["rose", "--source", "openverse", "--sort", "interestingness-desc"], "--sort is Flickr's"),
        (["rose", "--source", "commons", "--tags"], "--tags is Flickr's"),
        (["rose", "--source", "openverse", "--endpoint", "http://127.0.0.1:9/"], "--endpoint is Flickr's"),
        (["=rose"], "a label cannot contain '='"),
        (["rose", "--feed", "--source", "commons"], "--feed is another name for --source feed"),
    ],
)
def test_bad_keyless_input_is_one_line_exit_2_and_writes_nothing(openverse, commons, inaturalist, capsys, dataset, argv, needle):
    code, _, err = run_cli(capsys, *argv, "--out", str(dataset))
    assert_one_line_error(code, err, needle)
    assert not dataset.exists()
    assert not openverse.requests and not commons.requests and not inaturalist.requests


def test_keyless_sources_take_their_endpoints_from_the_settings_file(openverse, commons, inaturalist, capsys, dataset, tmp_path):
    openverse.add("rose", 3)
    commons.add("rose", 3)
    inaturalist.add(inaturalist.add_taxon(47148, "Helianthus annuus", "common sunflower"), 3)
    Path("config.toml").write_text(f'[openverse]\nendpoint = "{openverse.endpoint}"\n[commons]\nendpoint = "{commons.endpoint}"\n'
                                   f'[inaturalist]\nendpoint = "{inaturalist.endpoint}"\n[collect]\ncontact = "me@example.org"\n')
    code, out, err = run_cli(capsys, "rose", "sunflower=Helianthus annuus", "--source", "openverse,commons,inaturalist", "--count", "3",
                             "--out", str(dataset))
    assert code == 0, out + err
    assert len(list((dataset / "rose").iterdir())) == 3 and len(list((dataset / "sunflower").iterdir())) == 3
    assert all("me@example.org" in r.headers["User-Agent"] for r in commons.api_requests)


def test_a_label_whose_name_iNaturalist_does_not_know_exits_2_after_the_others(inaturalist, capsys, dataset):
    inaturalist.add(inaturalist.add_taxon(47148, "Helianthus annuus", "common sunflower"), 3)
    Path("config.toml").write_text(f'[inaturalist]\nendpoint = "{inaturalist.endpoint}"\n')
    code, out, _ = run_cli(capsys, "sunflower", "zzyzx", "--source", "inaturalist", "--count", "2", "--out", str(dataset))
    assert code == 2
    assert "zzyzx: no iNaturalist taxon is named 'zzyzx'" in out
    assert len(list((dataset / "sunflower").iterdir())) == 2


def test_unknown_licence_id_lists_the_known_ones(fake, keys, capsys, dataset):
    code, _, err = run_cli(capsys, "rose", "--license", "4,99", "--out", str(dataset), "--endpoint", fake.rest_url)
    assert_one_line_error(code, err, "4=Attribution License")


def test_config_file_supplies_key_endpoint_and_defaults(fake, capsys, tmp_path):
    fake.add("rose", 5)
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[flickr]\napi_key = "{API_KEY}"\napi_secret = "{API_SECRET}"\nendpoint = "{fake.rest_url}"\n'
        f'[collect]\ncount = 2\nout = "{tmp_path / "from-config"}"\n'
    )
    code, _, _ = run_cli(capsys, "rose", "--config", str(config))
    assert code == 0
    assert len(list((tmp_path / "from-config" / "rose").iterdir())) == 2


def test_environment_overrides_the_key_in_the_file(fake, capsys, tmp_path, monkeypatch, dataset):
    fake.add("rose", 1)
    Path("config.toml").write_text(f'[flickr]\napi_key = "stale"\napi_secret = "{API_SECRET}"\nendpoint = "{fake.rest_url}"\n')
    monkeypatch.setenv("FLICKR_API_KEY", API_KEY)
    code, _, err = run_cli(capsys, "rose", "--count", "1", "--out", str(dataset))
    assert code == 0, err


def test_a_typo_in_the_config_is_one_line(capsys, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[collect]\ncuont = 3\n")
    code, _, err = run_cli(capsys, "rose", "--config", str(config))
    assert_one_line_error(code, err, "unknown key 'cuont'")


def test_a_section_no_command_reads_is_refused_not_ignored(capsys, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[serve]\nport = 9000\n")
    code, _, err = run_cli(capsys, "rose", "--config", str(config))
    assert_one_line_error(code, err, "unknown section [serve]")


def test_feed_mode_warns_that_the_licence_is_unknown(fake, capsys, dataset, tmp_path):
    fake.add("rose", 3)
    config = tmp_path / "feed.toml"
    config.write_text(f'[flickr]\nfeed_url = "{fake.feed_url}"\n')
    code = main(["rose", "--feed", "--count", "2", "--out", str(dataset), "--config", str(config)])
    _, err = capsys.readouterr()
    assert code == 0
    assert "licence unknown" in err
    assert len(list((dataset / "rose").iterdir())) == 2


def test_the_installed_console_script_runs(tmp_path):
    env = {**os.environ, "FLICKR_API_KEY": "", "FLICKR_API_SECRET": ""}
    script = str(Path(sys.executable).parent / "collect")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0
    assert "--count" in result.stdout
    result = subprocess.run([script, "rose", "--count", "-1"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "collect: --count must be at least 1, got -1"


def test_collect_help_does_not_import_tensorflow():
    code = "import sys, collector.cli; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
