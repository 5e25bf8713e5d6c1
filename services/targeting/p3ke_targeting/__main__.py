import sys

from p3ke_platform.runner import main
from p3ke_targeting.bootstrap import SERVICE

sys.exit(main(SERVICE))
