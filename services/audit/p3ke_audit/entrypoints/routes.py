"""The audit service's routers, as `ServiceSpec.routers` loads them (`lazy_routers`): the API (api.py) and
the web page (web.py), which share their dependencies through deps.py and never import each other."""

from p3ke_audit.entrypoints import api, incidents_api, obligations_api, web

routers = [api.router, web.router]
routers.append(incidents_api.router)  # incidents, legal holds, data-subject requests (UU PDP Art. 46, 32)
routers.append(obligations_api.router)  # obligations with deadlines, liaison officers, force majeure (PKS)
