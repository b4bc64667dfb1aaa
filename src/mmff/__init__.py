"""mmff: Multi-Modality Feature Fusion network (skeleton sequence + one RGB frame)."""
__version__ = "0.1.0"
