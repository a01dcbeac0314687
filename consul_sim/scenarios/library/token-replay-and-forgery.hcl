title       = "A replayed and a forged peering token are refused"
description = "A token already used and a token with a made-up secret are both refused by cluster-01, whose peerings do not change."
clusters    = ["cluster-01", "cluster-02", "cluster-03"]
include     = ["peer"]

step {
  say = "cluster-03 replays the token cluster-02 already used; cluster-01 refuses the secret."
  on  = "cluster-03"
  http = "POST /v1/peering/establish"
  body = { PeerName = "cluster-01", PeeringToken = "$TOKEN" }
  expect {
    status = 500
    output = "invalid peering establishment secret"
    peering {
      name  = "cluster-01"
      state = "PENDING"
    }
  }
}

step {
  say = "cluster-03 keeps a PENDING record (Consul writes it before the exchange); cluster-01 still has exactly one peering, with cluster-02, ACTIVE."
  on  = "cluster-01"
  http = "GET /v1/peerings"
  expect {
    answer = {
      "0.Name"  = "cluster-02"
      "0.State" = "ACTIVE"
      "1"       = null
    }
  }
}

step {
  say = "A forged token: valid base64 JSON naming cluster-01's servers, with a secret cluster-01 never issued: the establish fails."
  on  = "cluster-03"
  http = "POST /v1/peering/establish"
  body = { PeerName = "cluster-01", PeeringToken = "eyJDQSI6bnVsbCwiTWFuYWdlbWVudFBhcnRpdGlvbiI6IiIsIlBlZXJJRCI6ImZvcmdlZCIsIlNlcnZlckFkZHJlc3NlcyI6WyIxMjcuMC4wLjE6ODUwMCJdLCJTZXJ2ZXJOYW1lIjoic2VydmVyLmNsdXN0ZXItMDEucGVlcmluZy5jb25zdWwiLCJFc3RhYmxpc2htZW50U2VjcmV0IjoiMDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAwIn0=" }
  expect {
    status = 500
  }
}

step {
  say = "Still one peering on cluster-01, unchanged."
  on  = "cluster-01"
  http = "GET /v1/peerings"
  expect {
    answer = {
      "0.Name"  = "cluster-02"
      "0.State" = "ACTIVE"
      "1"       = null
    }
  }
}
