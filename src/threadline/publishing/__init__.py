"""Threads-compatible Graph surface: profiles, tokens, containers, media jobs, posts, permalinks."""
