import sys

from p3ke_delivery.bootstrap import SERVICE
from p3ke_platform.runner import main

sys.exit(main(SERVICE))
