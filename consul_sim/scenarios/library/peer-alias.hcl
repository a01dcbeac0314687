title       = "A peering token works under another peer name, as in Consul"
description = "cluster-01 makes a token for the peer name west-peer; cluster-02 establishes with it anyway. Consul checks only the secret, so the peering goes ACTIVE; the simulator's journal notes the mismatch."
clusters    = ["cluster-01", "cluster-02"]

step {
  say = "cluster-01 makes a token for the peer name west-peer, its own label for the other side."
  on  = "cluster-01"
  http = "POST /v1/peering/token"
  body = { PeerName = "west-peer" }
  capture {
    TOKEN = "PeeringToken"
  }
}

step {
  say = "cluster-02 establishes with it and calls cluster-01 east. Consul's ExchangeSecret compares only the secret, so the names need not match: both sides go ACTIVE."
  on  = "cluster-02"
  http = "POST /v1/peering/establish"
  body = { PeerName = "east", PeeringToken = "$TOKEN" }
  expect {
    status = 200
    peering {
      name  = "east"
      state = "ACTIVE"
    }
  }
}

step {
  say = "cluster-01 calls the same peering west-peer; the page's \"exact name\" advice is advice."
  on  = "cluster-01"
  http = "GET /v1/peering/west-peer"
  expect {
    answer = {
      "State" = "ACTIVE"
    }
  }
}

step {
  say = "The simulator's journal (/_sim/events) records the mismatch as a warning (serve -strict-peer-names would have refused it)."
  on  = "cluster-01"
  http = "GET /_sim/events"
  expect {
    output = "PeerNameMismatch"
  }
}
