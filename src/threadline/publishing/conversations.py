"""Replies: who may reply to what (reply_control, hidden, ghost and deleted posts), and the reply tree.

``check_reply`` runs when a reply container is created and again inside the publish transaction, so a
post deleted, hidden or locked down in between refuses the reply at publish too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from threadline.kit.ids import parse_graph_id
from threadline.publishing import relations as rel
from threadline.publishing import repository as repo
from threadline.publishing.errors import GraphError
from threadline.publishing.mentions import mentioned_usernames
from threadline.store.models import ThreadsPost, ThreadsProfile

HIDDEN = "HIDDEN"
UNHUSHED = "UNHUSHED"
NOT_HUSHED = "NOT_HUSHED"
REPOST = "REPOST_FACADE"

_WHO = {
    "accounts_you_follow": "accounts its author follows",
    "mentioned_only": "accounts mentioned in it",
    "parent_post_author_only": "its author",
    "followers_only": "its author's followers",
}


def refused(why: str) -> GraphError:
    """A refused reply: Graph 400, code 100, the message saying why."""
    return GraphError(100, f"(#100) The parameter reply_to_id {why}", param="reply_to_id")


@dataclass(frozen=True)
class ReplyTarget:
    target: ThreadsPost
    root: ThreadsPost


def root_of(post: ThreadsPost) -> int:
    return post.root_id if post.root_id is not None else post.id


def check_reply(s: Session, replier_id: int, raw_id: str) -> ReplyTarget:
    """The post a reply may be attached to, or the Graph error saying why not."""
    target_id = parse_graph_id(raw_id)
    target = repo.live_post(s, target_id) if target_id is not None else None
    if target is None:
        raise refused("does not name an existing post")
    if target.parent_id is not None:
        raise refused("names a carousel item; reply to the carousel post")
    if target.media_type == REPOST:
        raise refused("names a repost; reply to the original post")
    if target.ghost_expires_at is not None:
        raise refused("names a ghost post, which cannot be replied to")
    root = target if target.root_id is None else repo.live_post(s, target.root_id)
    if root is None:
        raise refused("names a reply whose conversation's root post was deleted")
    if target.hide_status == HIDDEN and replier_id != root.profile_id:
        raise refused("names a reply the conversation's author has hidden")
    control = str(root.attrs.get("reply_control") or "everyone")
    if replier_id != root.profile_id and not _allowed(s, control, replier_id, root):
        raise refused(f"names a post that only {_WHO[control]} can reply to (reply_control={control})")
    return ReplyTarget(target, root)


def _allowed(s: Session, control: str, replier_id: int, root: ThreadsPost) -> bool:
    if control == "everyone":
        return True
    if control == "accounts_you_follow":
        return rel.follows(s, root.profile_id, replier_id)
    if control == "followers_only":
        return rel.follows(s, replier_id, root.profile_id)
    if control == "mentioned_only":
        replier = s.get(ThreadsProfile, replier_id)
        return replier is not None and replier.username.lower() in mentioned_usernames(root.text)
    return False  # parent_post_author_only: the author was let through above


def visible_to(s: Session, viewer_id: int, post: ThreadsPost) -> bool:
    """A post's author, and the author of its conversation's root, may read it (and its replies)."""
    if post.profile_id == viewer_id:
        return True
    if post.root_id is None:
        return False
    root = s.get(ThreadsPost, post.root_id)
    return root is not None and root.profile_id == viewer_id


def descendants(tree: list[tuple[int, int]], post_id: int) -> set[int]:
    """Ids below ``post_id`` in a conversation given as (id, reply_to_id) pairs."""
    children: dict[int, list[int]] = {}
    for pid, parent in tree:
        children.setdefault(parent, []).append(pid)
    out: set[int] = set()
    stack = [post_id]
    while stack:
        for kid in children.get(stack.pop(), ()):
            if kid not in out:
                out.add(kid)
                stack.append(kid)
    return out
