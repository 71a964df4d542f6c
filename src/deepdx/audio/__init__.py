"""Hearing a voice: rendering with dexed-py (render), what a render sounds like in numbers
(spectrum), WAV files (wav), and the check-and-repair pass for silent or shrill voices (repair)."""
