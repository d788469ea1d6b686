"""The answer to a global question ("what are the main themes of …?"): one line per theme of the entity graph.

The themes are the graph's communities as ``mode="global"`` retrieval ranks them (``ragkit.graph.themes``), each hit
one community with its extractive summary; here they are written up, each with its most representative sentence
cited, without an LLM.
"""

from __future__ import annotations

from typing import Sequence

from ragkit.answer.lexicon import ENGLISH, Lexicon
from ragkit.records import Answer, AnswerStatus, Citation, Hit


def themes_answer(question: str, hits: Sequence[Hit], lexicon: Lexicon = ENGLISH) -> Answer:
    """An extractive answer to a global question from ``global`` hits: one line per theme — its top entities and
    its most representative sentence, cited. Confidence is 1.0 when the graph has themes and 0.0 when it has none
    (``no_answer``): a summary of what the knowledge base holds is not a claim the calibrator can judge."""
    if not hits:
        return Answer(question, AnswerStatus.NO_ANSWER, lexicon.no_themes, 0.0, (), ())
    lines, citations = [], []
    for number, hit in enumerate(hits, start=1):
        community = hit.metadata["community"]
        chunk_id, start, end = community["spans"][0]
        sentence = community["sentences"][0]
        names = community.get("names") or community["entities"]
        lines.append(f"{number}. {', '.join(names[:5])}: {sentence} [{number}]")
        citations.append(Citation(number, chunk_id, hit.source, start, end, sentence))
    text = lexicon.themes_intro + "\n" + "\n".join(lines)
    return Answer(question, AnswerStatus.ANSWERED, text, 1.0, tuple(citations), tuple(hits),
                  signals={"themes": float(len(hits))}, generator="extractive (graph communities)")
