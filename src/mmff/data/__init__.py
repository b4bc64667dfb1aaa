"""Data: formats (NTU, SYSU, PYSKL pickles, synthetic), splits, transforms, datasets."""


class SkeletonFormatError(ValueError):
    """A skeleton/metadata file is malformed. The message names the file (and line) and
    says what was expected, e.g. ``"a.skeleton:12: expected 12 joint values, got 7"``."""


class SkeletonSequence:
    """Shape helpers shared by every skeleton type of the data layer (NTU, SYSU): they need
    ``joints`` (T, M, V, 3) and ``present`` (T, M) bool."""

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_bodies(self) -> int:
        return int(self.joints.shape[1])

    @property
    def is_empty(self) -> bool:
        """No body in any frame (0 frames, frames listing 0 bodies, or all joints zero)."""
        return not bool(self.present.any())


__all__ = ["SkeletonFormatError", "SkeletonSequence"]
