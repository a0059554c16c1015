"""Aduan's common package: event contracts, topics, settings, logging, health, channel kit."""
