"""explain_platform_error knows every error code a Threadline surface can emit."""

from __future__ import annotations

import ast
from pathlib import Path

from fastapi.testclient import TestClient

import threadline
from tests.tools.conftest import ToolOrg, call
from threadline.tools.error_catalog import CATALOG

# Constructors whose code argument is a wire error code, and where that argument sits.
_CODE_ARG = {"ApiError": 1, "ToolError": 1, "FetchError": 0, "ImageError": 0, "MediaRejected": 0}


def emitted_codes() -> dict[str, str]:
    """Every literal code passed to an error constructor in src/threadline (code -> first file)."""
    root = Path(threadline.__file__).parent
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        consts = {
            n.targets[0].id: n.value.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name)
            and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
            args: list[ast.expr] = []
            if name in _CODE_ARG and len(node.args) > _CODE_ARG[name]:
                args.append(node.args[_CODE_ARG[name]])
            if name == "invalid":
                args += [k.value for k in node.keywords if k.arg == "code"] + node.args[2:3]
            for arg in args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, str(path.relative_to(root)))
                elif isinstance(arg, ast.Name) and arg.id in consts:
                    found.setdefault(consts[arg.id], str(path.relative_to(root)))
    return found


def test_every_emitted_code_is_explained() -> None:
    codes = emitted_codes()
    assert len(codes) > 40  # the scan really found the codes
    missing = {c: f for c, f in codes.items() if c not in CATALOG}
    assert missing == {}


def test_explain_a_code_and_a_message(client: TestClient, org: ToolOrg) -> None:
    r = call(client, "explain_platform_error", {"error": "card_declined"}, org.headers)
    assert r.json()["data"]["structured"]["matches"] == [
        {
            "code": "card_declined",
            "meaning": "The card was declined for the campaign deposit.",
            "action": "Use another card, then retry.",
            "retryable": False,
        }
    ]
    body = '{"error":{"message":"Rate limit exceeded.","code":"upstream_rate_limited"}}'
    r = call(client, "explain_platform_error", {"error": body}, org.headers)
    assert [m["code"] for m in r.json()["data"]["structured"]["matches"]] == ["upstream_rate_limited"]
    r = call(client, "explain_platform_error", {"error": "something odd"}, org.headers)
    assert r.json()["data"]["structured"] == {"matches": []}


def test_docs_tools_md_is_up_to_date() -> None:
    from threadline.tools.docs import render

    path = Path(threadline.__file__).parents[2] / "docs" / "tools.md"
    assert path.read_text() == render(), "run: python -m threadline.tools.docs > docs/tools.md"
