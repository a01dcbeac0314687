## Shared steps after "peer": cluster-01 registers service-name and exports it to cluster-02.
step {
  say = "cluster-01 registers service-name with a TTL check that starts passing."
  on  = "cluster-01"
  http = "PUT /v1/agent/service/register"
  body = { Name = "service-name", ID = "service-name-1", Port = 8080, Check = { TTL = "10m", Status = "passing" } }
  expect {
    status = 200
  }
}

step {
  say = "cluster-01 exports service-name to cluster-02."
  on  = "cluster-01"
  config = "peering-config.hcl"
  expect {
    service {
      on     = "cluster-02"
      name   = "service-name"
      peer   = "cluster-01"
      health = "passing"
    }
  }
}

