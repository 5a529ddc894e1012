"""Files in and out: images, kernel and weight arrays, PNGs written atomically.

Nothing here knows a config: every function takes plain values.
"""
