"""Market data at rest: a SQLite candle store, a resumable downloader, frame recordings.

Example::

    from iqwire.store import CandleStore, download

    with CandleStore("candles.sqlite") as store:
        report = await download(store, client, 76, 60, start, end)
        print(report.fetched, report.missing)
        df = store.to_pandas(76, 60)
"""

from iqwire.store.candles import CandleStore, Gap, SeriesInfo, SeriesRange
from iqwire.store.download import DownloadReport, download
from iqwire.store.recording import FrameRecorder, RecordedFrame, load_recording

__all__ = [
    "CandleStore",
    "DownloadReport",
    "FrameRecorder",
    "Gap",
    "RecordedFrame",
    "SeriesInfo",
    "SeriesRange",
    "download",
    "load_recording",
]
