title       = "Intentions allow one peer's service and deny another"
description = "cluster-01 allows frontend from its peer cluster-02 and denies billing; /_sim/call gives the reasons."
include     = ["peer", "export"]

step {
  say = "cluster-01 writes service-intentions: frontend in cluster-02 may call, billing in cluster-02 may not."
  on  = "cluster-01"
  entry = {
    Kind = "service-intentions"
    Name = "service-name"
    Sources = [
      { Name = "frontend", Peer = "cluster-02", Action = "allow" },
      { Name = "billing", Peer = "cluster-02", Action = "deny" },
    ]
  }
  expect {
    status = 200
  }
}

step {
  say = "frontend's call goes through: every link of the chain holds."
  on  = "cluster-02"
  http = "POST /_sim/call"
  body = { Source = { Cluster = "cluster-02", Service = "frontend" }, Destination = { Peer = "cluster-01", Service = "service-name" } }
  expect {
    answer = { Allowed = true }
    call {
      service = "frontend"
      peer    = "cluster-01"
      to      = "service-name"
      allowed = true
      reason  = "intentions allow"
    }
  }
}

step {
  say = "billing's call is refused by the deny intention, and the reason says so."
  on  = "cluster-02"
  http = "POST /_sim/call"
  body = { Source = { Cluster = "cluster-02", Service = "billing" }, Destination = { Peer = "cluster-01", Service = "service-name" } }
  expect {
    answer = { Allowed = false }
    call {
      service = "billing"
      peer    = "cluster-01"
      to      = "service-name"
      allowed = false
      reason  = "intentions deny"
    }
  }
}
