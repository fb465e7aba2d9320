"""Threads-compatible Graph surface (/v1.0/): profiles, tokens, containers, publish, read, delete, permalinks."""
