title       = "A service-resolver fails over to the peer"
description = "cluster-02's own service-name goes critical; its resolver sends frontend's calls to cluster-01's imported copy, until that fails too."
include     = ["peer", "export"]

step {
  say = "cluster-02 runs its own service-name, whose check is critical."
  on  = "cluster-02"
  http = "PUT /v1/agent/service/register"
  body = { Name = "service-name", ID = "service-name-local", Port = 9090, Check = { TTL = "10m", Status = "critical" } }
  expect {
    status = 200
  }
}

step {
  say = "Without a resolver, frontend's call to service-name stays local, and no local instance passes."
  on  = "cluster-02"
  http = "POST /_sim/call"
  body = { Source = { Cluster = "cluster-02", Service = "frontend" }, Destination = { Service = "service-name" } }
  expect {
    answer = { Allowed = false }
    call {
      service = "frontend"
      to      = "service-name"
      allowed = false
      reason  = "has no passing instance on cluster-02"
    }
  }
}

step {
  say = "cluster-02 writes a service-resolver: when no local instance passes, fail over to the peer cluster-01."
  on  = "cluster-02"
  entry = {
    Kind = "service-resolver"
    Name = "service-name"
    Failover = {
      "*" = {
        Targets = [{ Peer = "cluster-01" }]
      }
    }
  }
  expect {
    status = 200
  }
}

step {
  say = "The discovery chain's resolver now lists a failover target on the peer: service-name.default.default.external.cluster-01."
  on  = "cluster-02"
  http = "GET /v1/discovery-chain/service-name"
  expect {
    status = 200
    answer = {
      "Chain.StartNode" = "resolver:service-name.default.default.cluster-02"
      "Chain.Protocol"  = "tcp"
    }
  }
}

step {
  say = "frontend's call fails over to the instance imported from cluster-01, and the reasons say so."
  on  = "cluster-02"
  http = "POST /_sim/call"
  body = { Source = { Cluster = "cluster-02", Service = "frontend" }, Destination = { Service = "service-name" } }
  expect {
    answer = { Allowed = true }
    call {
      service = "frontend"
      to      = "service-name"
      allowed = true
      reason  = "fails over to target service-name.default.default.external.cluster-01"
    }
  }
}

step {
  say = "cluster-01's instance fails too: nothing is left to fail over to."
  on  = "cluster-01"
  http = "PUT /v1/agent/check/fail/service:service-name-1"
  expect {
    status = 200
    call {
      from    = "cluster-02"
      service = "frontend"
      to      = "service-name"
      allowed = false
      reason  = "has no failover target to take the call"
    }
  }
}
