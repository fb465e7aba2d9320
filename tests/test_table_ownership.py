"""Each slice owns its tables: a slice's modules build queries only over their own slice's table models.

Read from the source with ``ast`` (nothing is imported). A model imported from ``threadline.store.models``
counts as *queried* where it is the base of an attribute (``Campaign.start_time``) or an argument of a
call (``select(Ad)``, ``session.get(Org, id)``, ``.join(Org, ...)``); naming it in a type annotation
does not (rows handed over by the owner's named function may be typed). Another slice reads through a
named function of the owner (``advertiser/entities.py``, ``serving/clicks.find_clicks``, ...).

``ALLOWED`` is the explicit list of what is left, each with the reason it stays for now.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import threadline

PACKAGE = Path(threadline.__file__).parent
MODELS = "threadline.store.models"

# Table model -> the folder that owns it (its queries live there).
OWNER = {
    "Org": "operator",
    "Publisher": "operator",
    "ServerSecret": "operator",
    "AdAccount": "advertiser",
    "Campaign": "advertiser",
    "AdGroup": "advertiser",
    "Ad": "advertiser",
    "ApiKey": "auth",
    "PaymentMethod": "billing",
    "Charge": "billing",
    "SandboxPayment": "billing",
    "IdempotencyRecord": "kit",
    "JobRecord": "kit",
    "Upload": "media",
    "Click": "serving",
    "CollectEvent": "events",
    "Conversion": "events",
    "InsightsHourly": "insights",
    "InsightsOrgHourly": "insights",
    "InsightsCampaignHourly": "insights",
    "ToolPlan": "tools",
    "ToolUsage": "tools",
    "ToolCall": "tools",
    "ToolAccount": "tools",
    "ThreadsProfile": "publishing",
    "ThreadsApp": "publishing",
    "ThreadsToken": "publishing",
    "ThreadsAuthCode": "publishing",
    "ThreadsContainer": "publishing",
    "ThreadsPost": "publishing",
    "ThreadsScheduledPost": "publishing",
    "ThreadsQuotaEvent": "publishing",
    "ThreadsFollow": "publishing",
    "ThreadsPollVote": "publishing",
    "ThreadsPageView": "publishing",
    "ThreadsWebhookSubscription": "publishing",
    "ThreadsWebhookDelivery": "publishing",
    "ThreadsUpstreamLink": "publishing",
    "ThreadsMirror": "publishing",
    "Person": "dashboard",
    "DashboardSession": "dashboard",
    "Invitation": "dashboard",
}

# (module path under threadline/, model): why it is still queried there.
ALLOWED: dict[tuple[str, str], str] = {
    # The tenant row: a join on orgs.deleted_at is how every slice refuses a deleted org's credentials
    # and rows in the same query (a named function per caller would cost a second round trip).
    ("auth/keys.py", "Org"): "key lookup joins the org to refuse a deleted org's keys in one query",
    ("publishing/repository.py", "Org"): "token lookup joins the org (deleted org = invalid token)",
    ("publishing/accounts.py", "Org"): "profile creation checks the org exists",
    ("advertiser/repository.py", "Org"): "serving snapshot query joins the org name and deletion",
    # Serving's hot path: budget reservation is one conditional UPDATE of the campaign's spend column
    # (pacing logic and the UPDATE belong together; moving them is the serving engineer's call).
    ("serving/budget.py", "Campaign"): "atomic budget reservation (one UPDATE ... WHERE spent + x <= limit)",
}


def _slice_modules() -> Iterator[tuple[str, str, Path]]:
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} - {"store"}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) > 1 and rel.parts[0] in folders:
            yield rel.as_posix(), rel.parts[0], path


def queried_models(source: str) -> set[str]:
    """Models imported from store.models that the source uses in a query position."""
    tree = ast.parse(source)
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == MODELS:
            for alias in node.names:
                imported[alias.asname or alias.name] = alias.name
    used: set[str] = set()
    for node in ast.walk(tree):
        names: list[ast.expr] = []
        if isinstance(node, ast.Attribute):
            names = [node.value]
        elif isinstance(node, ast.Call):
            names = [*node.args, *(k.value for k in node.keywords)]
        for expr in names:
            if isinstance(expr, ast.Name) and expr.id in imported:
                used.add(imported[expr.id])
    return used


def violations() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for rel, folder, path in _slice_modules():
        for model in queried_models(path.read_text()):
            owner = OWNER.get(model)
            assert owner is not None, f"{rel}: {model} has no owner in OWNER; add it"
            if owner != folder:
                found[(rel, model)] = owner
    return found


def test_slices_query_only_their_own_tables() -> None:
    found = violations()
    new = {k: v for k, v in found.items() if k not in ALLOWED}
    assert not new, "queries over another slice's tables (call a named function of the owner):\n" + "\n".join(
        f"{rel} queries {model} (owned by {owner})" for (rel, model), owner in sorted(new.items())
    )


def test_the_allow_list_has_no_stale_entries() -> None:
    stale = set(ALLOWED) - set(violations())
    assert not stale, f"no longer needed, remove from ALLOWED: {sorted(stale)}"


def test_every_table_model_has_an_owner() -> None:
    from threadline.store.models import Base

    models = {mapper.class_.__name__ for mapper in Base.registry.mappers}
    assert models == set(OWNER)


def test_the_checker_sees_a_query_and_not_an_annotation() -> None:
    source = (
        "from threadline.store.models import Ad, Campaign as C, Org\n"
        "def f(s, x: Org) -> Org:\n"
        "    s.execute(select(Ad))\n"
        "    return C.start_time\n"
    )
    assert queried_models(source) == {"Ad", "Campaign"}
