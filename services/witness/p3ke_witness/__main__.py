import sys

from p3ke_platform.runner import main
from p3ke_witness.bootstrap import SERVICE

sys.exit(main(SERVICE))
