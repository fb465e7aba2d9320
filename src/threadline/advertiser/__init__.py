"""The Thrad-compatible Advertiser API under /v1/."""
