"""The serving slice's tables (defined with the rest of the schema in store/models.py)."""

from threadline.store.models import campaign_pacing, chat_turns, impressions, poll_votes, serving_state

__all__ = ["campaign_pacing", "chat_turns", "impressions", "poll_votes", "serving_state"]
