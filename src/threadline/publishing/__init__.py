"""Threads-compatible Graph surface (/v1.0/): profiles, tokens, containers, media jobs, posts, permalinks."""
