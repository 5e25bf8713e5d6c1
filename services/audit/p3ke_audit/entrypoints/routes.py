"""The audit service's routers, as `ServiceSpec.routers` loads them (`lazy_routers`): the API (api.py) and
the web page (web.py), which share their dependencies through deps.py and never import each other."""

from p3ke_audit.entrypoints import api, calendar_feeds_api, incidents_api, obligations_api, processing_records_api, web

routers = [api.router, web.router]
routers.append(incidents_api.router)  # incidents, legal holds, data-subject requests (UU PDP Art. 46, 32)
routers.append(calendar_feeds_api.router)  # calendar feed URLs: before obligations' /{obligation_id}
routers.append(obligations_api.router)  # obligations with deadlines, liaison officers, force majeure (PKS)
routers.append(processing_records_api.router)  # the ROPA (UU PDP Art. 31) and the DPIA (Art. 34), versioned
