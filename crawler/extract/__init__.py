"""Seed and page bytes to text, links and their context (no network, no store)."""
