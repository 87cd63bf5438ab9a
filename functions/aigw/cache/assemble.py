"""Rebuild the `chat.completion` a stream amounted to, chunk by chunk, so a streamed answer can
be cached and later replayed either way (pipeline/replay.py turns it back into chunks)."""

from __future__ import annotations

from typing import Any

from aigw.providers.base import ChatChunk


class StreamAssembler:
    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}

    def add(self, chunk: ChatChunk) -> None:
        if not self._head:
            self._head = {k: chunk[k] for k in ("id", "created", "model", "system_fingerprint") if chunk.get(k)}
        for choice in chunk.get("choices") or ():
            index = int(choice.get("index") or 0)
            state = self._choices.setdefault(index, {"role": "assistant", "content": [], "refusal": [],
                                                     "tool_calls": {}, "finish_reason": None})
            delta = choice.get("delta") or {}
            if delta.get("role"):
                state["role"] = delta["role"]
            if delta.get("content"):
                state["content"].append(delta["content"])
            if delta.get("refusal"):
                state["refusal"].append(delta["refusal"])
            for call in delta.get("tool_calls") or ():
                slot = state["tool_calls"].setdefault(int(call.get("index") or 0),
                                                      {"id": None, "type": "function", "name": [], "arguments": []})
                if call.get("id"):
                    slot["id"] = call["id"]
                if call.get("type"):
                    slot["type"] = call["type"]
                function = call.get("function") or {}
                if function.get("name"):
                    slot["name"].append(function["name"])
                if function.get("arguments"):
                    slot["arguments"].append(function["arguments"])
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]

    def completion(self) -> dict[str, Any]:
        choices = []
        for index in sorted(self._choices):
            state = self._choices[index]
            message: dict[str, Any] = {"role": state["role"],
                                       "content": "".join(state["content"]) if state["content"] else None}
            if state["refusal"]:
                message["refusal"] = "".join(state["refusal"])
            if state["tool_calls"]:
                message["tool_calls"] = [
                    {"id": slot["id"], "type": slot["type"],
                     "function": {"name": "".join(slot["name"]), "arguments": "".join(slot["arguments"])}}
                    for _, slot in sorted(state["tool_calls"].items())]
            choices.append({"index": index, "message": message, "logprobs": None,
                            "finish_reason": state["finish_reason"]})
        body: dict[str, Any] = {"id": self._head.get("id", ""), "object": "chat.completion",
                                "created": self._head.get("created", 0), "model": self._head.get("model", ""),
                                "choices": choices}
        if self._head.get("system_fingerprint"):
            body["system_fingerprint"] = self._head["system_fingerprint"]
        return body
