"""What the demo seeds: its names and its running campaign."""

from __future__ import annotations

from typing import Any

ORG_NAME = "Acme Inc."
ORG_URL = "https://acme.example.com"
PUBLISHER_NAME = "Demo Chat"
EVENT_KEY_LABEL = "demo"

# Realistic enough that a running-themed conversation matches at once.
DEMO_CAMPAIGN: dict[str, Any] = {
    "name": "Acme Runners: spring marathon season",
    "description": "Demo campaign seeded by `threadline demo`.",
    "budget": {"lifetime_spend_limit_micros": 100_000_000},
    "pricing_model": "cpm",
    "ad_groups": [
        {
            "name": "Marathon training",
            "context_hints": [
                "running shoes",
                "marathon training",
                "half marathon",
                "long run",
                "race day",
                "running injury prevention",
            ],
            "bidding_config": {"max_bid_micros": 3_000_000},
            "ads": [
                {
                    "name": "Glide 3 hero card",
                    "creative": {
                        "type": "chat_card",
                        "title": "Acme Glide 3 Running Shoes",
                        "body": "Cushioned, light and built for race day. Free returns for 60 days.",
                        "target_url": "https://acme.example.com/shoes/glide-3",
                        "cta_text": "Shop now",
                    },
                },
                {
                    "name": "Training plan card",
                    "creative": {
                        "type": "chat_card",
                        "title": "Free 16-week marathon plan",
                        "body": "A coach-built plan that adapts to your pace. Pair it with the Glide 3.",
                        "target_url": "https://acme.example.com/plans/marathon",
                        "cta_text": "Get the plan",
                    },
                },
            ],
        },
        {
            "name": "Trail runners",
            "context_hints": ["trail running", "ultramarathon", "hiking boots", "running in the rain"],
            "bidding_config": {"max_bid_micros": 2_000_000},
            "ads": [
                {
                    "name": "Next race poll",
                    "creative": {
                        "type": "poll",
                        "question": "What's your next race distance?",
                        "options": ["5K or 10K", "Half marathon", "Marathon", "Ultra"],
                        "target_url": "https://acme.example.com/races",
                    },
                }
            ],
        },
    ],
}
