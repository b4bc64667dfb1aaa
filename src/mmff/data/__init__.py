"""Data: formats (NTU, SYSU, PYSKL pickles, synthetic), splits, transforms, datasets."""


class SkeletonFormatError(ValueError):
    """A skeleton/metadata file is malformed. The message names the file (and line) and
    says what was expected, e.g. ``"a.skeleton:12: expected 12 joint values, got 7"``."""


__all__ = ["SkeletonFormatError"]
