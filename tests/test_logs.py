"""Log lines are JSON and carry what a reader of logs needs, nothing meant for a terminal."""

from __future__ import annotations

import io
import json
import logging

from modelreg.logs import JsonFormatter


def test_uvicorn_start_up_lines_carry_no_colour_codes() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("uvicorn.error.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        # What uvicorn logs as its server process starts.
        logger.warning(
            "Started server process [%d]",
            4242,
            extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
        )
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "\x1b" not in line
    assert "\\u001b" not in line
    entry = json.loads(line)
    assert entry["msg"] == "Started server process [4242]"
    assert "color_message" not in entry
