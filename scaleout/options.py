"""Beam's pipeline options for `embed()`: what the user passed, checked, with local defaults."""

from __future__ import annotations

import logging
import os

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions, WorkerOptions

from retrainkit.errors import UserError


def pipeline_options(args: list[str]) -> PipelineOptions:
    """Beam's options as given; without a runner, the DirectRunner with one worker process per core."""
    options = PipelineOptions(args)
    unknown = _unparsed(options)
    if unknown:  # Beam would drop them with a warning: `--runer DataflowRunner` would then run a bucket here
        raise UserError(f"unknown option {' '.join(unknown)} (neither retrainkit-beam's nor Beam's; "
                        "see retrainkit-beam --help and Beam's pipeline options)")
    if options.view_as(StandardOptions).runner is None:
        direct = options.view_as(DirectOptions)
        given = " ".join(args)
        if "--direct_running_mode" not in given:
            direct.direct_running_mode = "multi_processing"
        if "--direct_num_workers" not in given and direct.direct_running_mode != "in_memory":
            direct.direct_num_workers = os.cpu_count() or 1
        if "--default_sdk_harness_log_level" not in given:  # the local workers' INFO lines would bury the summary
            options.view_as(WorkerOptions).default_sdk_harness_log_level = "ERROR"
    return options


class _Discarded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.args: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("Discarding unparseable args") and record.args:
            self.args.extend(str(a) for a in record.args[0])


def _unparsed(options: PipelineOptions) -> list[str]:
    """The arguments Beam's own parser does not know (it only logs them), read from that log record."""
    logger = logging.getLogger("apache_beam.options.pipeline_options")
    handler, level, propagate = _Discarded(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        options.get_all_options()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    return [a for a in handler.args if a.startswith("-")]
