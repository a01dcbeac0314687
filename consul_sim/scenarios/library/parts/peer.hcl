## Shared opening steps: cluster-02 peers with cluster-01 (include = ["peer"]).
step {
  say = "cluster-01 makes a peering token for cluster-02."
  on  = "cluster-01"
  http = "POST /v1/peering/token"
  body = { PeerName = "cluster-02" }
  capture {
    TOKEN = "PeeringToken"
  }
}

step {
  say = "cluster-02 establishes the peering with it; both sides go ACTIVE."
  on  = "cluster-02"
  http = "POST /v1/peering/establish"
  body = { PeerName = "cluster-01", PeeringToken = "$TOKEN" }
  expect {
    status = 200
    peering {
      name  = "cluster-01"
      state = "ACTIVE"
    }
  }
}

