"""``python -m services.agency_gateway``: serve the gateway (migrations run at start-up)."""

from services.agency_gateway.settings import AgencyGatewaySettings
from services.agency_gateway.wiring import create_app
from shared.serve import serve

if __name__ == "__main__":
    settings = AgencyGatewaySettings()
    serve("agency_gateway", create_app(settings), settings)
