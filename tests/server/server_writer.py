"""Run by test_faults.py: a server-mode writer that adds, updates and deletes documents until it is killed.

usage: python server_writer.py REGISTRY INDEX NAME RUN

Each step is printed before it starts (``try add|update|delete SOURCE VERSION``) and once ``ingest`` or ``delete``
returned (``ack …``), so the test knows which writes were acknowledged and which one was in flight.
"""

from __future__ import annotations

import random
import sys

from ragkit import Document, KnowledgeBase

WORDS = ("invoice contract policy server backup laptop travel badge holiday training budget audit payroll "
         "printer network access review deadline vendor meeting").split()


def text(source: str, version: int, rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.choice((20, 40, 320)))  # one in three makes several chunks
    return f"Record {source} version {version}. " + " ".join(words) + "."


def main() -> None:
    registry, index, name, run = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = random.Random(run)
    kb = KnowledgeBase.connect(registry, index, name=name)
    print("ready", flush=True)
    live = [row.source for row in kb._registry.documents.documents_under("")]
    serial = 0
    while True:
        choice = rng.random()
        if live and choice < 0.2:
            source = live.pop(rng.randrange(len(live)))
            print(f"try delete {source} -", flush=True)
            kb.delete(source)
            print(f"ack delete {source} -", flush=True)
        elif live and choice < 0.4:
            source, version = rng.choice(live), run * 1000 + serial
            serial += 1
            print(f"try update {source} {version}", flush=True)
            kb.ingest([Document(source, text(source, version, rng))])
            print(f"ack update {source} {version}", flush=True)
        else:
            sources = [f"r{run}-d{serial + i}" for i in range(3)]
            serial += 3
            for source in sources:
                print(f"try add {source} 0", flush=True)
            kb.ingest([Document(source, text(source, 0, rng)) for source in sources])
            for source in sources:
                print(f"ack add {source} 0", flush=True)
            live += sources


if __name__ == "__main__":
    main()
