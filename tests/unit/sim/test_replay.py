"""Capture lines → (time, stream, exact payload bytes)."""

from __future__ import annotations

from pathlib import Path

from sim.replay import load_capture, split_frame


def test_combined_frame_keeps_the_payload_bytes() -> None:
    frame = b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","p":"1.10"}}'
    assert split_frame(frame) == ("btcusdt@aggTrade", b'{"e":"aggTrade","p":"1.10"}')


def test_raw_frames_get_their_stream_from_the_payload() -> None:
    assert split_frame(b'{"e":"depthUpdate","s":"ETHUSDT"}') == (
        "ethusdt@depth",
        b'{"e":"depthUpdate","s":"ETHUSDT"}',
    )
    assert split_frame(b'{"e":"forceOrder","o":{"s":"BTCUSDT"}}')[0] == "btcusdt@forceOrder"  # type: ignore[index]
    assert split_frame(b'[{"e":"markPriceUpdate","s":"BTCUSDT"}]')[0] == "!markPrice@arr"  # type: ignore[index]
    assert split_frame(b"not json") is None


def test_load_capture_sorts_and_skips_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "cap.txt"
    path.write_bytes(
        b'200 {"stream":"a@aggTrade","data":{"x":2}}\n'
        b"garbage\n"
        b'100 {"stream":"a@aggTrade","data":{"x":1}}\n'
    )
    assert load_capture(path) == [(100, "a@aggTrade", b'{"x":1}'), (200, "a@aggTrade", b'{"x":2}')]
