"""Answers with citations, or an honest partial answer, clarifying question or refusal (see ``answerer``)."""

from ragkit.answer.answerer import Answerer
from ragkit.answer.calibrator import Calibrator, auroc
from ragkit.answer.conversation import Chat, Turn
from ragkit.answer.lexicon import ENGLISH, Lexicon
from ragkit.answer.llm import ChatModel, LLMError, OpenAIChat
from ragkit.answer.policy import AnswerPolicy
from ragkit.answer.question import key_phrases, sub_questions, underspecified_noun
from ragkit.answer.signals import FEATURES, Signals, compute_signals

__all__ = ["ENGLISH", "FEATURES", "AnswerPolicy", "Answerer", "Calibrator", "Chat", "ChatModel", "LLMError", "Lexicon",
           "OpenAIChat", "Signals", "auroc", "Turn", "compute_signals", "key_phrases", "sub_questions",
           "underspecified_noun"]
