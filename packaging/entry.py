"""Entry point of the PyInstaller bundle: ``vcfviewer`` exactly as the installed console script.

``multiprocessing.freeze_support()`` must run first: the batch runner's spawned worker processes
re-enter this executable, and this call turns them into workers instead of new applications.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from vcfviewer.__main__ import main

    sys.exit(main())
