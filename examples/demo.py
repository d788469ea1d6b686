"""The embedded demo: build a knowledge base from examples/docs, then ask it questions — answered, partly answered,
ambiguous, one it cannot answer, a follow-up in a conversation, and a reply to a clarifying question.

Run from the repository root:  python examples/demo.py [--kb DIR]
Running it again reuses the knowledge base: unchanged files are neither parsed nor embedded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ragkit import Answer, KnowledgeBase

DOCS = Path(__file__).resolve().parent / "docs"

QUESTIONS = [
    "How many vacation days do employees get per year?",
    "What is the hotel limit per night in Europe?",
    "How quickly must the on-call engineer acknowledge a page?",
    "What is the maximum payload of the Atlas arm?",
    "What is the maximum payload of the Atlas arm and of the Hyperion drone?",  # partial: no Hyperion drone here
    "How many days does this policy allow?",  # which policy? the answer asks
    "What was Northwind's revenue last year?",  # Northwind is there, revenue is not: the answer must say so
    "What is the boiling point of mercury?",  # nothing like it in the documents: no answer
]
# Asked alone, the follow-up names nothing; asked with the conversation, it is retrieved with the previous question.
FOLLOW_UP = ("How quickly must the on-call engineer acknowledge a page?", "And what if they don't?")
# In a chat, the reply to "Which policy do you mean: …?" answers the question it was about.
REPLY = ("How many days does this policy allow?", "the vacation one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default="demo.kb", help="knowledge-base directory (default: ./demo.kb)")
    args = parser.parse_args()

    with KnowledgeBase.open(args.kb) as kb:
        report = kb.ingest(DOCS)
        counts = ", ".join(f"{n} {outcome}" for outcome, n in report.counts().items() if n)
        print(f"Ingested {DOCS}: {counts}; {report.chunks_embedded} chunks embedded in {report.seconds:.1f}s")
        print(f"Knowledge base {kb.path}: {kb.stats()['documents']} documents, {kb.stats()['chunks']} chunks\n")
        for question in QUESTIONS:
            show(question, kb.ask(question))
        earlier, follow_up = FOLLOW_UP
        show(f"{follow_up}  (after: {earlier})", kb.ask(follow_up, history=[earlier]))
        chat = kb.chat()
        asked, reply = REPLY
        clarifying = chat.ask(asked).text
        show(f"{reply}  (after: {asked} — {clarifying})", chat.ask(reply))


def show(question: str, answer: Answer) -> None:
    print(f"Q: {question}")
    print(f"A ({answer.status.value}, confidence {answer.confidence:.2f}): {answer.text}")
    if answer.clarifications:
        print(f"   options: {'; '.join(answer.clarifications)}")
    for citation in answer.citations:
        source = Path(citation.source).relative_to(DOCS)
        print(f"   [{citation.number}] {source}, characters {citation.start}-{citation.end}")
    print()


if __name__ == "__main__":
    main()
