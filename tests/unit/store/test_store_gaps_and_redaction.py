"""The pure parts: gap classification rules, frame redaction, the recorder's file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iqwire.sim.actives import find_active, is_open
from iqwire.store import FrameRecorder, Gap, load_recording
from iqwire.store.download import Schedule, classify_gaps
from iqwire.store.recording import REDACTED, redact_frame

#: Wednesday 2026-02-11 00:00 UTC.
WED = 1_770_768_000
HOUR = 3600


def eurusd_open(t: int) -> bool:
    spec = find_active("EURUSD")
    assert spec is not None
    return is_open(spec, t)


def test_the_predicate_splits_a_run_into_market_and_missing() -> None:
    # 20:00-23:00 on Wednesday: closed 21:00-22:00 only.
    gaps, rule = classify_gaps([(WED + 20 * HOUR, WED + 23 * HOUR)], 60, is_open=eurusd_open)
    assert rule == "is_open"
    assert gaps == [
        Gap(WED + 20 * HOUR, WED + 21 * HOUR, 60, "missing"),
        Gap(WED + 21 * HOUR, WED + 22 * HOUR, 60, "market"),
        Gap(WED + 22 * HOUR, WED + 23 * HOUR, 60, "missing"),
    ]


def test_a_candle_longer_than_a_closure_is_expected() -> None:
    # A daily candle of Wednesday exists although the market closes for an hour.
    gaps, _ = classify_gaps([(WED, WED + 86_400)], 86_400, is_open=eurusd_open)
    assert gaps == [Gap(WED, WED + 86_400, 86_400, "missing")]


def test_the_schedule_decides_inside_its_span_only() -> None:
    schedule = Schedule.from_wire([[WED, WED + 21 * HOUR], [WED + 22 * HOUR, WED + 45 * HOUR]])
    assert schedule is not None
    runs = [(WED + 20 * HOUR, WED + 23 * HOUR), (WED - 2 * HOUR, WED - HOUR)]
    gaps, rule = classify_gaps(runs, 3600, schedule=schedule)
    assert rule == "schedule"
    assert gaps == [
        Gap(WED + 20 * HOUR, WED + 21 * HOUR, 3600, "missing"),
        Gap(WED + 21 * HOUR, WED + 22 * HOUR, 3600, "market"),
        Gap(WED + 22 * HOUR, WED + 23 * HOUR, 3600, "missing"),
        Gap(WED - 2 * HOUR, WED - HOUR, 3600, "missing"),  # before the span: nobody can tell
    ]
    assert Schedule.from_wire([]) is None


def test_contiguous_neighbour_ids_mean_a_market_gap() -> None:
    ids = {(100, 200): (7, 8), (300, 400): (9, 12)}
    gaps, rule = classify_gaps([(100, 200), (300, 400)], 50, neighbour_ids=lambda a, b: ids[(a, b)])
    assert rule == "ids"
    assert [g.kind for g in gaps] == ["market", "missing"]
    gaps, _ = classify_gaps([(100, 200)], 50, neighbour_ids=lambda a, b: (None, 8))
    assert gaps[0].kind == "missing"


def test_a_suspended_active_explains_the_trailing_run() -> None:
    schedule = Schedule(((0, 10),), 0, 10, suspended=True)
    gaps, _ = classify_gaps([(100, 200)], 50, schedule=schedule, range_end=200)
    assert gaps == [Gap(100, 200, 50, "market")]
    gaps, _ = classify_gaps([(100, 150)], 50, schedule=schedule, range_end=200)
    assert gaps == [Gap(100, 150, 50, "missing")]


# -- redaction ------------------------------------------------------------------------------------


SSID = "0123456789abcdef0123456789abcdef"


def test_the_authenticate_body_is_replaced_whole() -> None:
    frame = json.dumps(
        {"name": "authenticate", "request_id": "1", "msg": {"ssid": SSID, "protocol": 3, "session_id": ""}}
    )
    redacted = json.loads(redact_frame(frame))
    assert redacted == {"name": "authenticate", "request_id": "1", "msg": {"ssid": REDACTED}}


def test_secrets_are_replaced_anywhere_and_short_ones_only_whole() -> None:
    frame = json.dumps(
        {"name": "x", "msg": {"note": f"session {SSID}!", "email": "demo@example.com", "p": "demo"}}
    )
    text = redact_frame(frame, [SSID, "demo", None, ""])
    assert SSID not in text
    data = json.loads(text)
    assert data["msg"] == {"note": f"session {REDACTED}!", "email": "demo@example.com", "p": REDACTED}


def test_sensitive_keys_are_scrubbed_at_any_depth() -> None:
    frame = json.dumps(
        {"name": "x", "msg": {"a": [{"Password": "hunter2", "cookies": {"ssid": "x"}}], "ok": 1}}
    )
    data = json.loads(redact_frame(frame))
    assert data["msg"] == {"a": [{"Password": REDACTED, "cookies": REDACTED}], "ok": 1}


def test_frames_without_secrets_pass_unchanged() -> None:
    frame = '{"name":"timeSync","msg":1770899115227}'
    assert redact_frame(frame, [SSID]) == frame
    assert redact_frame('not json "password"') == 'not json "password"'


def test_the_recorder_writes_json_lines_and_reopens_after_close(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    recorder = FrameRecorder(path, secrets=lambda: (SSID,))
    recorder.frame("out", f'{{"name":"authenticate","request_id":"1","msg":{{"ssid":"{SSID}"}}}}'.encode())
    recorder.frame("in", b'{"name":"timeSync","msg":1}')
    recorder.close()
    recorder.frame("in", f'{{"name":"x","msg":"{SSID}"}}')
    recorder.close()
    recorder.close()
    frames = load_recording(path)
    assert [f.dir for f in frames] == ["out", "in", "in"]
    assert frames[0].t <= frames[1].t <= frames[2].t
    assert SSID not in path.read_text()
    assert recorder.frames == 3 and "frames=3" in repr(recorder)


def test_a_broken_recording_says_where(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t": 0, "dir": "in", "frame": "{}"}\n\n{"t": 1, "dir": "sideways", "frame": "{}"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:3"):
        load_recording(path)
