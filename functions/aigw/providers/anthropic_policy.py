"""What a client may make the platform's Anthropic account do beyond generating tokens.

Server tools run on Anthropic's side, from the platform's account, and bill per use: web
search (a fee per search), web fetch, code execution (container time), MCP connectors
(`mcp_servers`: the account calls any URL the client names), tool search. They, and the
`anthropic-beta` values that enable them, reach a deployment only when its config lists them
(`deployments[].anthropic.server_tools`); otherwise the request is a 400 that names that
setting. Every other beta value passes, unless the deployment's `anthropic.beta` allow/deny
lists say otherwise, so clients such as Claude Code work unchanged.

Anthropic-defined tools that the client runs itself (bash, text editor, computer use,
memory) are ordinary tools. A tool `type` the gateway does not know is refused: it may be a
server tool added since, and an unknown cost is not one to let through silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aigw.config.models import AnthropicSettings, Deployment
from aigw.errors import InvalidRequest

SETTING = "models[].deployments[].anthropic"
# Tool `type` prefix -> the server tool it is.
SERVER_TOOL_TYPES: dict[str, str] = {
    "web_search_": "web_search",
    "web_fetch_": "web_fetch",
    "code_execution_": "code_execution",
    "tool_search_tool_": "tool_search",
    "mcp_toolset": "mcp",
}
# Anthropic-defined tools executed by the client, not by Anthropic.
CLIENT_TOOL_TYPES = ("custom", "bash_", "text_editor_", "computer_", "memory_")
# `anthropic-beta` value prefix -> the server tool it enables.
SERVER_TOOL_BETAS: dict[str, str] = {
    "web-search-": "web_search",
    "web-fetch-": "web_fetch",
    "code-execution-": "code_execution",
    "skills-": "code_execution",  # Agent Skills run in the code-execution container
    "mcp-client-": "mcp",
    "advanced-tool-use-": "tool_search",
}
DEFAULT = AnthropicSettings()


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(value == p or (p.endswith("*") and value.startswith(p[:-1])) for p in patterns)


def _refuse(what: str, tool: str, deployment: Deployment, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"{what} uses the Anthropic server tool {tool!r}, which this model does not allow: the platform team "
        f"can enable it with `{SETTING}.server_tools: [{tool}]` on deployment {deployment.deployment_id}",
        param=param, code="server_tool_not_allowed")


def server_tools(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(server tool, where it was asked for) for every server tool the body uses."""
    found: list[tuple[str, str]] = []
    if body.get("mcp_servers"):
        found.append(("mcp", "mcp_servers"))
    for tool in body.get("tools") or ():
        kind = tool.get("type") if isinstance(tool, dict) else None
        if not kind or not isinstance(kind, str) or kind.startswith(CLIENT_TOOL_TYPES):
            continue
        server = next((name for prefix, name in SERVER_TOOL_TYPES.items() if kind.startswith(prefix)), None)
        if server is None:
            raise InvalidRequest(f"the tool type {kind!r} is not known to this gateway (it may be a server tool "
                                 "that bills beyond tokens); use a custom tool", param="tools",
                                 code="server_tool_not_allowed")
        found.append((server, "tools"))
    return found


def check_body(body: Mapping[str, Any], deployment: Deployment) -> None:
    allowed = set((deployment.anthropic or DEFAULT).server_tools)
    for tool, where in server_tools(body):
        if tool not in allowed:
            raise _refuse(f"this request's `{where}`", tool, deployment, where)


def beta_header(value: str, deployment: Deployment) -> str:
    """The `anthropic-beta` header the deployment receives, or a 400 for a value it may not."""
    settings = deployment.anthropic or DEFAULT
    allowed_tools = set(settings.server_tools)
    kept: list[str] = []
    for beta in (v.strip() for v in value.split(",")):
        if not beta:
            continue
        tool = next((name for prefix, name in SERVER_TOOL_BETAS.items() if beta.startswith(prefix)), None)
        if tool is not None:
            if tool not in allowed_tools:
                raise _refuse(f"the anthropic-beta value {beta!r}", tool, deployment, "anthropic-beta")
        elif _matches(beta, settings.beta.deny) or (settings.beta.allow is not None
                                                    and not _matches(beta, settings.beta.allow)):
            raise InvalidRequest(f"the anthropic-beta value {beta!r} is not allowed for this model (setting "
                                 f"`{SETTING}.beta` on deployment {deployment.deployment_id})",
                                 param="anthropic-beta", code="beta_not_allowed")
        kept.append(beta)
    return ",".join(kept)
