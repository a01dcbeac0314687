"""/ui/ (the dashboard's static files) and /_sim/stream's refusals, in-process."""

from __future__ import annotations

import httpx

from consul_sim.api.stream import dashboard_view
from consul_sim.world import World
from tests.api.conftest import register


def test_ui_serves_the_dashboard_page_and_its_files(client: httpx.Client) -> None:
    r = client.get("/ui/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="app.js"></script>' in r.text
    js = client.get("/ui/app.js")
    assert js.status_code == 200
    assert 'new EventSource("/_sim/stream")' in js.text
    assert client.get("/ui/style.css").headers["content-type"] == "text/css; charset=utf-8"


def test_ui_without_a_slash_redirects_to_the_page(client: httpx.Client) -> None:
    r = client.get("/ui", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (307, f"{client.base_url}/ui/")


def test_the_root_sends_a_browser_on_to_the_ui(client: httpx.Client) -> None:
    r = client.get("/", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/ui/")
    assert r.text == '<a href="/ui/">Moved Permanently</a>.\n\n'
    assert client.get("/", follow_redirects=True).url.path == "/ui/"


def test_ui_answers_404_for_a_file_it_does_not_ship(client: httpx.Client) -> None:
    r = client.get("/ui/nope.js")
    assert (r.status_code, r.text) == (404, "404 page not found\n")


def test_stream_refuses_a_since_that_is_not_a_sequence_number(client: httpx.Client) -> None:
    r = client.get("/_sim/stream", params={"since": "-1"})
    assert (r.status_code, r.text) == (400, 'Invalid since: "-1" is not a journal sequence number')
    assert r.headers["content-type"].startswith("text/plain")
    r = client.get("/_sim/stream", headers={"Last-Event-ID": "x"})
    assert (r.status_code, r.text) == (400, 'Invalid since: "x" is not a journal sequence number')


def test_dashboard_view_shows_services_with_their_worst_check(world: World) -> None:
    dc1 = world.add_cluster("dc1")
    register(
        dc1.client,
        {
            "Node": "n1",
            "Address": "10.0.0.1",
            "Service": {"Service": "web", "ID": "web-1"},
            "Checks": [
                {"CheckID": "c1", "Name": "c1", "Status": "passing", "ServiceID": "web-1"},
                {"CheckID": "c2", "Name": "c2", "Status": "warning", "ServiceID": "web-1"},
            ],
        },
    )
    register(dc1.client, {"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "web"}})
    services = {s["Name"]: s for s in dashboard_view(world)["Clusters"][0]["Services"]}
    assert services["web"] == {"Name": "web", "Instances": 2, "Status": "warning"}


def test_dashboard_view_names_the_cluster_at_each_end_of_a_peering(world: World) -> None:
    dc1, dc2 = world.add_cluster("dc1"), world.add_cluster("dc2")
    token = dc1.client.post("/v1/peering/token", json={"PeerName": "dc2"}).json()
    r = dc2.client.post(
        "/v1/peering/establish", json={"PeerName": "dc1", "PeeringToken": token["PeeringToken"]}
    )
    assert r.status_code == 200, r.text
    world.settle()
    view = dashboard_view(world)
    ends = {
        (c["Name"], p["Name"], p["Remote"], p["State"])
        for c in view["Clusters"]
        for p in c["Peerings"]
    }
    assert ends == {("dc1", "dc2", "dc2", "ACTIVE"), ("dc2", "dc1", "dc1", "ACTIVE")}
