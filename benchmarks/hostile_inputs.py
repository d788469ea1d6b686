"""Peak memory and time of ingesting inputs made to hurt: a 50 MB text on one line, and a 1 MB .docx that unpacks to
315 MB of XML. Each is ingested, beside a normal note, by a fresh process with the default ``IngestLimits``; the
report gives the outcome, the seconds, and the peak RSS of that process (model loaded) and of its parse worker.

    python benchmarks/hostile_inputs.py --json
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _common import emit, parser

_INGEST = """
import json, resource, sys, time
from ragkit import KnowledgeBase
path, kb_dir = sys.argv[1], sys.argv[2]
with KnowledgeBase.open(kb_dir) as kb:
    kb.search("warm up the model", k=1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    report = kb.ingest(path)
    seconds = time.perf_counter() - started
items = [{"source": i.source.rsplit("/", 1)[-1], "outcome": i.outcome.value, "code": i.code and i.code.value,
          "reason": i.reason} for i in report.items]
print(json.dumps({"items": items, "seconds": round(seconds, 1), "rss_before_mb": round(before),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def _children_peak_mb(pid: int) -> float:
    """The largest high-water RSS (VmHWM) among the children of ``pid`` that are alive now (Linux)."""
    peak = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid) and "VmHWM" in fields:
            peak = max(peak, int(fields["VmHWM"].split()[0]) / 1024)
    return peak


def one_line_text(megabytes: int) -> bytes:
    return b"cafeteria " * (megabytes * 2**20 // 10)


def docx_bomb(expanded_mb: int) -> bytes:
    """A .docx whose document.xml unpacks to ``expanded_mb`` MB of paragraphs (it compresses about 200:1)."""
    paragraph = b"<w:p><w:r><w:t>" + b"x" * 200 + b"</w:t></w:r></w:p>"
    body = paragraph * (expanded_mb * 2**20 // len(paragraph))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"/>')
        archive.writestr("word/document.xml", b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.'
                         b'openxmlformats.org/wordprocessingml/2006/main"><w:body>' + body + b"</w:body></w:document>")
    return out.getvalue()


def measure(name: str, data: bytes, folder: Path) -> dict:
    """Ingest ``data`` (as file ``name``) beside a normal note, in a fresh process."""
    documents = folder / name.replace(".", "-")
    documents.mkdir()
    (documents / name).write_bytes(data)
    (documents / "note.txt").write_text("The cafeteria opens at 7:30 on weekdays and closes at three.")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", _INGEST, str(documents), str(folder / f"{name}.kb")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker_peak = 0.0
    while process.poll() is None:  # the parse worker is the ingesting process's child: watch its high-water mark
        worker_peak = max(worker_peak, _children_peak_mb(process.pid))
        time.sleep(0.1)
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"ingesting {name} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return {"input": name, "bytes": len(data), "process_s": round(time.perf_counter() - started, 1), **result,
            "worker_peak_rss_mb": round(worker_peak)}


def main(argv: list[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0], beir=False)
    arguments.add_argument("--text-mb", type=int, default=50, help="size of the one-line text (default 50)")
    arguments.add_argument("--docx-expanded-mb", type=int, default=315,
                           help="what the .docx unpacks to (default 315)")
    args = arguments.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ragkit-hostile-") as scratch:
        folder = Path(scratch)
        rows = [measure(f"one-line-{args.text_mb}mb.txt", one_line_text(args.text_mb), folder),
                measure(f"expands-to-{args.docx_expanded_mb}mb.docx", docx_bomb(args.docx_expanded_mb), folder)]
    return emit(rows)


if __name__ == "__main__":
    sys.exit(main())
