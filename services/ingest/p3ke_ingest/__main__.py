import sys

from p3ke_ingest.bootstrap import SERVICE
from p3ke_platform.runner import main

sys.exit(main(SERVICE))
