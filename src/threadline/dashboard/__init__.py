"""The web dashboard (spec 90): people, sessions, pages at /app/ and the Threads OAuth consent screen."""
