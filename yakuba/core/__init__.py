"""Shared bottom layer: settings, types, text, 和暦 dates, files and errors. Imports nothing of ours."""
