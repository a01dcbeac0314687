title       = "A health change crosses the peering"
description = "A check failing on cluster-01 shows as critical on cluster-02's imported copy, and recovers."
include     = ["peer", "export"]

step {
  say = "service-name's TTL check fails on cluster-01 (its application reported trouble)."
  on  = "cluster-01"
  http = "PUT /v1/agent/check/fail/service:service-name-1?note=disk+full"
  expect {
    status = 200
    service {
      on     = "cluster-01"
      name   = "service-name"
      health = "critical"
    }
  }
}

step {
  say = "cluster-02 sees it too: the imported instance's one overall check is now critical."
  on  = "cluster-02"
  http = "GET /v1/health/service/service-name?peer=cluster-01"
  expect {
    status = 200
    answer = {
      "0.Checks.0.CheckID" = "service-name-1:overall-check"
      "0.Checks.0.Status"  = "critical"
    }
  }
}

step {
  say = "Asking only for passing instances, cluster-02 now gets none."
  on  = "cluster-02"
  http = "GET /v1/health/service/service-name?peer=cluster-01&passing"
  expect {
    status = 200
    answer = { "0" = null }
  }
}

step {
  say = "The check passes again on cluster-01, and cluster-02's copy follows."
  on  = "cluster-01"
  http = "PUT /v1/agent/check/pass/service:service-name-1"
  expect {
    status = 200
    service {
      on     = "cluster-02"
      name   = "service-name"
      peer   = "cluster-01"
      health = "passing"
    }
  }
}
