"""The text `threadline demo` prints: the ids, the keys and a few commands to try."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from threadline.config import Settings
from threadline.demo.content import ORG_NAME, PUBLISHER_NAME
from threadline.demo.seeding import DemoInfo


def banner(
    info: DemoInfo,
    settings: Settings,
    *,
    admin_token: str | None = None,
) -> str:
    base = settings.public_base_url.rstrip("/")
    token_file = Path(settings.data_dir) / "admin-token"
    if settings.admin_token:
        admin = "$THREADLINE_ADMIN_TOKEN"
        admin_note = "from THREADLINE_ADMIN_TOKEN"
    else:
        admin = f"$(cat {shlex.quote(str(token_file))})"
        admin_note = f"in {token_file}" + (f" (new: {admin_token})" if admin_token else "")
    bid = json.dumps(
        {
            "userId": "demo-user",
            "chatId": "demo-chat",
            "messages": [
                {
                    "role": "user",
                    "content": "I'm training for my first marathon, which running shoes should I get?",
                },
                {
                    "role": "assistant",
                    "content": "For marathon training you want cushioning and a light upper.",
                },
            ],
            "production": False,
        }
    )
    return "\n".join(
        [
            "",
            "Threadline demo is ready",
            f"  org            {info.org_id}  ({ORG_NAME}, card tok_visa)",
            f"  campaign       {info.campaign_id}  (approved, active)",
            f"  publisher      {info.publisher_id}  ({PUBLISHER_NAME}, supply direct)",
            f"  advertiser key {info.advertiser_key}",
            f"  event key      {info.event_key}",
            f"  publisher key  {info.publisher_key}",
            f"  threads        @{info.threads_username}  profile {info.threads_profile_id}",
            f"  threads token  {info.threads_token}  (long-lived, every scope)",
            f"  threads post   {info.threads_post_id}  (a poll with replies from @ada; vote on its page)",
            f"  admin token    {admin_note}",
            f"  keys file      {info.keys_file}",
            "",
            "Try:",
            f"  curl -s {base}/v1/campaigns -H 'Authorization: Bearer {info.advertiser_key}'",
            f"  curl -s -X POST {base}/api/v1/ssp/bid-request -H 'thrad-api-key: {info.publisher_key}' \\",
            "       -H 'User-Agent: demo' -H 'X-Forwarded-For: 203.0.113.7' -H 'Content-Type: application/json' \\",
            f"       -d {shlex.quote(bid)}",
            f"  curl -s -X POST {base}/v1/api/collect -H 'Authorization: Bearer {info.event_key}' \\",
            "       -H 'Content-Type: application/json' -d '{\"event_name\": \"page_view\"}'",
            f'  curl -s {base}/admin/v1/review_queue -H "Authorization: Bearer {admin}"',
            f"  curl -s -X POST {base}/v1.0/me/threads -d media_type=TEXT -d 'text=Hello Threads' \\",
            f"       -d access_token={info.threads_token}",
            f"  curl -s -X POST {base}/v1.0/me/threads_publish -d creation_id=<id from above> \\",
            f"       -d access_token={info.threads_token}",
            f"  curl -s '{base}/v1.0/{info.threads_post_id}/conversation?fields=text,username"
            f"&access_token={info.threads_token}'",
            f"  open {base}/docs",
            "",
        ]
    )
