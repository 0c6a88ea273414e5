"""Labelled corpus for the intent model: hand-written cores and the script that composes the splits."""
