"""``python -m deploy.agencies``: each command becomes the operator API's request."""

from deploy.agencies import parser, request


def test_put_sends_the_agencys_terms() -> None:
    command = (
        "put agency-east --name East --jurisdiction CN --jurisdiction US --region CN-ZJ "
        "--capacity 2000 --share 2 --inactive"
    )
    args = parser().parse_args(command.split())
    method, path, body = request(args)
    assert (method, path) == ("PUT", "/v1/agencies/agency-east")
    assert body == {
        "name": "East",
        "phone": None,
        "jurisdictions": ["CN", "US"],
        "regions": ["CN-ZJ"],
        "capacity": 2000,
        "share": 2,
        "webhook_url": None,
        "active": False,
    }


def test_list_and_show_read_the_registry() -> None:
    assert request(parser().parse_args(["list"])) == ("GET", "/v1/agencies", None)
    shown = request(parser().parse_args(["show", "agency-east"]))
    assert shown == ("GET", "/v1/agencies/agency-east", None)
