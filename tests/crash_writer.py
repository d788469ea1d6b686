"""Run as a script by test_crash.py: start a write and kill the process (os._exit) at a chosen step.

usage: python crash_writer.py KB_DIR DOCS_DIR STEP
STEP is where the process dies: 'before-upsert' (registry step 1 committed, index untouched),
'before-finish' (index written, registry not yet told), or 'before-delete' (a delete marked but not applied).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ragkit import KnowledgeBase
from ragkit.embed import make_embedder
from ragkit.index import EdgeIndex
from ragkit.settings import DEFAULT_EMBEDDER


class CrashingIndex:
    def __init__(self, inner: EdgeIndex, step: str) -> None:
        self._inner = inner
        self._step = step
        self.armed = False

    def upsert(self, points):
        if self.armed and self._step == "before-upsert":
            os._exit(3)
        self._inner.upsert(points)

    def delete(self, ids):
        if self.armed and self._step == "before-delete":
            os._exit(3)
        self._inner.delete(ids)

    def flush(self):
        self._inner.flush()
        if self.armed and self._step == "before-finish":
            os._exit(3)

    def optimize(self):
        self._inner.optimize()

    def search(self, queries):
        return self._inner.search(queries)

    def set_payload(self, doc_id, payload):
        self._inner.set_payload(doc_id, payload)

    def update_sparse(self, vectors):
        self._inner.update_sparse(vectors)

    def ids(self):
        return self._inner.ids()

    def dense_vectors(self, ids):
        return self._inner.dense_vectors(ids)

    def close(self):
        self._inner.close()


def main() -> None:
    kb_dir, docs_dir, step = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    embedder = make_embedder(DEFAULT_EMBEDDER)
    kb_dir.mkdir(parents=True, exist_ok=True)
    index = CrashingIndex(EdgeIndex(kb_dir / "index", embedder.dimension), step)
    kb = KnowledgeBase.open(kb_dir, embedder=embedder, index=index)
    index.armed = True
    if step == "before-delete":
        kb.delete(str(docs_dir / "security.txt"))
    else:
        kb.ingest(docs_dir)
    sys.exit("the crash step was never reached")


if __name__ == "__main__":
    main()
