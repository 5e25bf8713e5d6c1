"""The audit service's routers, as `ServiceSpec.routers` loads them (`lazy_routers`): the API (api.py) and
the web page (web.py), which share their dependencies through deps.py and never import each other."""

from p3ke_audit.entrypoints import api, web

routers = [api.router, web.router]
