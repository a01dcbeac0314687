title       = "A service not exported to a peer stays invisible to it"
description = "cluster-01 peers with cluster-02 and cluster-03 but exports service-name to cluster-02 only; cluster-03 never sees it."
clusters    = ["cluster-01", "cluster-02", "cluster-03"]

step {
  say = "cluster-01 makes a token for cluster-02."
  on  = "cluster-01"
  http = "POST /v1/peering/token"
  body = { PeerName = "cluster-02" }
  capture {
    TOKEN_02 = "PeeringToken"
  }
}

step {
  say = "cluster-02 establishes its peering with cluster-01."
  on  = "cluster-02"
  http = "POST /v1/peering/establish"
  body = { PeerName = "cluster-01", PeeringToken = "$TOKEN_02" }
  expect {
    status = 200
  }
}

step {
  say = "cluster-01 makes a token for cluster-03."
  on  = "cluster-01"
  http = "POST /v1/peering/token"
  body = { PeerName = "cluster-03" }
  capture {
    TOKEN_03 = "PeeringToken"
  }
}

step {
  say = "cluster-03 establishes its peering with cluster-01 as well."
  on  = "cluster-03"
  http = "POST /v1/peering/establish"
  body = { PeerName = "cluster-01", PeeringToken = "$TOKEN_03" }
  expect {
    status = 200
    peering {
      name  = "cluster-01"
      state = "ACTIVE"
    }
  }
}

step {
  say = "cluster-01 registers service-name."
  on  = "cluster-01"
  cli = "consul-sim services register -name=service-name -id=service-name-1 -port=8080"
  expect {
    exit = 0
  }
}

step {
  say = "cluster-01 exports it, naming cluster-02 as the only consumer."
  on  = "cluster-01"
  config = "peering-config.hcl"
  expect {
    service {
      on   = "cluster-02"
      name = "service-name"
      peer = "cluster-01"
    }
  }
}

step {
  say = "cluster-03 is peered with cluster-01 too, yet asking for the service from that peer gives nothing."
  on  = "cluster-03"
  http = "GET /v1/health/service/service-name?peer=cluster-01"
  expect {
    status = 200
    service {
      name    = "service-name"
      peer    = "cluster-01"
      visible = false
    }
  }
}

step {
  say = "cluster-01's view of each peering says the same: it exports to cluster-02, not to cluster-03."
  on  = "cluster-01"
  cli = "consul-sim peering exported-services -name=cluster-03"
  expect {
    exit = 0
  }
}

step {
  say = "The simulator's call check names the missing link: nothing is exported to cluster-03."
  on  = "cluster-03"
  http = "POST /_sim/call"
  body = { Source = { Cluster = "cluster-03", Service = "frontend" }, Destination = { Peer = "cluster-01", Service = "service-name" } }
  expect {
    call {
      from    = "cluster-03"
      service = "frontend"
      peer    = "cluster-01"
      to      = "service-name"
      allowed = false
    }
  }
}
