"""The ports: every protocol through which the application reaches the world outside it.

One module per concern, named for what it holds; adapters implement these, the application
depends on nothing else of theirs.
"""
