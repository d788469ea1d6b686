"""Questions asked in a conversation: "How is it created?" after "What are intents?".

Without an LLM to rewrite a follow-up into a standalone question (LlamaIndex's condense-question chat engine), ragkit
retrieves with the question followed by the user's previous turn — the history-expansion baseline of conversational
search (TREC CAsT) — and judges the evidence against the question as asked. On MTRAG-UN's multi-turn questions this
finds a reference passage among the top five for 98 % of the answerable ones, against 91 % for the question alone
(``ragkit eval abstention --mtrag``). An LLM that writes the answer gets the whole conversation.
"""

from __future__ import annotations

from typing import Mapping, Sequence, Union

from ragkit.errors import ConfigError

Turn = Union[str, Mapping[str, str]]
"""One earlier turn: a user's question as a string, or a chat message ``{"role": "user" | "assistant", "content": …}``
(the OpenAI format)."""

_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "agent": "assistant", "ai": "assistant"}


def conversation(history: Sequence[Turn]) -> list[dict[str, str]]:
    """``history`` (oldest first) as chat messages; a turn that is neither a string nor a message is an error that
    names it."""
    if isinstance(history, (str, bytes)):
        raise ConfigError("history must be a list of earlier turns (strings or {'role', 'content'} messages), "
                          "not one string")
    messages = []
    for number, turn in enumerate(history):
        if isinstance(turn, str):
            role, content = "user", turn
        elif isinstance(turn, Mapping) and isinstance(turn.get("content"), str):
            role = _ROLES.get(str(turn.get("role", "user")).lower(), "")
            content = turn["content"]
            if not role:
                raise ConfigError(f"history turn {number} has role {turn.get('role')!r}; use 'user' or 'assistant'")
        else:
            raise ConfigError(f"history turn {number} is {turn!r}: give a string (a user turn) or a message "
                              "{'role': 'user' | 'assistant', 'content': '...'}")
        if content.strip():
            messages.append({"role": role, "content": content.strip()})
    return messages


def previous_user_turn(messages: Sequence[Mapping[str, str]]) -> str:
    """The user's last turn before the question ("" if none)."""
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def contextual_query(question: str, messages: Sequence[Mapping[str, str]]) -> str | None:
    """What to retrieve with: the question, then the user's previous turn; None without one."""
    previous = previous_user_turn(messages)
    if not previous or previous == question.strip():
        return None
    return f"{question.strip()} {previous}"
