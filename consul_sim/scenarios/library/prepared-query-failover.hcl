title       = "A prepared query fails over to a peer when the local instances go critical"
description = "cluster-02 runs its own service-name; when its instance fails, the query answers with cluster-01's imported instance."
include     = ["peer", "export"]

step {
  say = "cluster-02 runs its own service-name instance, healthy."
  on  = "cluster-02"
  http = "PUT /v1/agent/service/register"
  body = { Name = "service-name", ID = "service-name-local", Port = 9090, Check = { TTL = "10m", Status = "passing" } }
  expect {
    status = 200
  }
}

step {
  say = "cluster-02 creates a prepared query for service-name that fails over to its peer cluster-01."
  on  = "cluster-02"
  http = "POST /v1/query"
  body = { Name = "service-name-q", Service = { Service = "service-name", Failover = { Targets = [{ Peer = "cluster-01" }] } } }
  expect {
    status = 200
  }
}

step {
  say = "While the local instance is healthy, the query answers locally: no failover."
  on  = "cluster-02"
  http = "GET /v1/query/service-name-q/execute"
  expect {
    answer = {
      "Failovers"          = 0
      "Nodes.0.Service.ID" = "service-name-local"
    }
  }
}

step {
  say = "cluster-02's local instance goes critical."
  on  = "cluster-02"
  http = "PUT /v1/agent/check/fail/service:service-name-local"
  expect {
    status = 200
  }
}

step {
  say = "Now the query fails over: the answer is cluster-01's instance, stamped with the peer's name."
  on  = "cluster-02"
  http = "GET /v1/query/service-name-q/execute"
  expect {
    answer = {
      "Failovers"                = 1
      "PeerName"                 = "cluster-01"
      "Nodes.0.Service.ID"       = "service-name-1"
      "Nodes.0.Service.PeerName" = "cluster-01"
    }
  }
}
