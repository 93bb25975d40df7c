"""Webhook adapters: the signed HTTP call (Standard Webhooks) and the queues that run it."""
