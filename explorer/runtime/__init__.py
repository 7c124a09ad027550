"""Layer 1, what every other layer runs on: the reader's language, private randomness, the
compute device and its memory, and the one shape of progress report. Imports nothing of ours."""
