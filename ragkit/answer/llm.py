"""Optional answer writing by an LLM behind any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama,
llama.cpp server…). The model is only called once ragkit has decided the question can be answered; it gets the
evidence as numbered sources and must cite them as [n]; a reply that cites nothing, or cites a source it was not
given, is discarded and the extractive answer is used instead.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from typing import Mapping, Protocol, Sequence

from ragkit.errors import ConfigError, LLMError
from ragkit.records import Citation, Hit

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources you are given. Cite every statement with the number of "
    "its source in square brackets, like [1] or [2][3]. If the sources do not contain the answer, say so instead "
    "of guessing. Be brief."
)
_MARKER = re.compile(r"\[(\d+)\]")


class ChatModel(Protocol):
    name: str

    def complete(self, messages: Sequence[dict[str, str]]) -> str: ...


class OpenAIChat:
    """A chat model behind ``{base_url}/chat/completions``; the API key (if any) is read from ``api_key_env``."""

    def __init__(self, model: str, base_url: str = "http://localhost:11434/v1", *, api_key_env: str = "OPENAI_API_KEY",
                 temperature: float = 0.0, max_tokens: int = 512, timeout: float = 60.0) -> None:
        if not model:
            raise ConfigError("an LLM model name is required (e.g. 'llama3.1' for Ollama)")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"LLM base URL must start with http:// or https://, got '{base_url}'")
        self.name = model
        self.base_url = base_url.rstrip("/")
        self._api_key_env = api_key_env
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._timeout = timeout

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        body = json.dumps({"model": self.name, "messages": list(messages), "temperature": self._temperature,
                           "max_tokens": self._max_tokens, "stream": False}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self._api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise LLMError(f"LLM endpoint {self.base_url} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise LLMError(f"LLM endpoint {self.base_url} is unreachable ({exc}); is the server running?") from exc
        except ValueError as exc:
            raise LLMError(f"LLM endpoint {self.base_url} did not answer JSON: {exc}") from exc
        try:
            return str(reply["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"LLM endpoint {self.base_url} answered without choices[0].message.content") from exc


def grounded_messages(question: str, hits: Sequence[Hit],
                      history: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    """The system prompt, the conversation so far (``history``: chat messages, oldest first), then the numbered
    sources with the question."""
    sources = "\n\n".join(f"[{number}] {hit.text.strip()}" for number, hit in enumerate(hits, start=1))
    return [{"role": "system", "content": SYSTEM_PROMPT},
            *({"role": m["role"], "content": m["content"]} for m in history),
            {"role": "user", "content": f"Sources:\n\n{sources}\n\nQuestion: {question}"}]


def grounded_answer(model: ChatModel, question: str, hits: Sequence[Hit],
                    history: Sequence[Mapping[str, str]] = ()) -> tuple[str, tuple[Citation, ...]] | None:
    """The model's reply and the sources it cites, or None if it cites none or one it was not given."""
    reply = model.complete(grounded_messages(question, hits, history)).strip()
    cited = [int(n) for n in _MARKER.findall(reply)]
    if not cited or any(not 1 <= n <= len(hits) for n in cited):
        return None
    citations = tuple(
        Citation(n, hits[n - 1].chunk_id, hits[n - 1].source, hits[n - 1].start, hits[n - 1].end, hits[n - 1].text)
        for n in sorted(set(cited))
    )
    return reply, citations
