"""Packaged models: one provisioning module builds, joins, verifies and caches every model Yakuba ships."""
