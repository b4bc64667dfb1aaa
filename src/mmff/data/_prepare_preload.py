"""Imported once by ``mmff prepare``'s forkserver (``set_forkserver_preload``), so every worker
process it forks starts with the libraries imported and the skeleton reader's compiled kernel
loaded, instead of paying ~1 s of imports per worker (:func:`mmff.data.prepare.prepare_samples`).
"""
import av  # noqa: F401  (FFmpeg's libraries)
import cv2

import mmff.data.prepare  # noqa: F401  (transforms, video)
from mmff.data.ntu import warm_numba_reader

cv2.setNumThreads(1)  # one process per core
warm_numba_reader()
