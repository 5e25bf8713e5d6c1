import sys

from p3ke_platform.runner import main
from p3ke_ingest.bootstrap import SERVICE

sys.exit(main(SERVICE))
