title       = "The cluster peering page, step by step"
description = "Peer cluster-01 and cluster-02 with the page's commands, export a service, authorize it, remove the peering."

step {
  say = "cluster-01 creates a peering token for cluster-02: base64 JSON naming its servers, with a one-time secret."
  on  = "cluster-01"
  cli = "consul-sim peering generate-token -peer=cluster-02"
  capture = "TOKEN"
  expect {
    exit = 0
  }
}

step {
  say = "cluster-02 initiates the peering with that token; as the page says, it prints nothing."
  on  = "cluster-02"
  cli = "consul-sim peering initiate -peer=cluster-01 -token=\"$TOKEN\""
  expect {
    exit = 0
    peering {
      on    = "cluster-02"
      name  = "cluster-01"
      state = "ACTIVE"
    }
    peering {
      on    = "cluster-01"
      name  = "cluster-02"
      state = "ACTIVE"
    }
  }
}

step {
  say = "cluster-01 registers the service to export."
  on  = "cluster-01"
  cli = "consul-sim services register -name=service-name -id=service-name-1 -port=8080"
  expect {
    output = "Registered service: service-name"
  }
}

step {
  say = "cluster-01 exports it to cluster-02 with the page's exported-services entry (corrected: the page's HCL does not parse)."
  on  = "cluster-01"
  config = "peering-config.hcl"
  expect {
    output = "Config entry written: exported-services/default"
    service {
      on   = "cluster-02"
      name = "service-name"
      peer = "cluster-01"
      health = "passing"
    }
  }
}

step {
  say = "Imported services answer only when the query names the peer: without ?peer= cluster-02 lists nothing."
  on  = "cluster-02"
  http = "GET /v1/health/service/service-name"
  expect {
    status = 200
    service {
      name    = "service-name"
      visible = false
    }
  }
}

step {
  say = "The page's read on cluster-02: the peering is ACTIVE and imports service-name."
  on  = "cluster-02"
  cli = "consul-sim peering read -name=cluster-01"
  expect {
    output = ["State:        ACTIVE", "Imported Services: 1"]
  }
}

step {
  say = "And on cluster-01, which exports it."
  on  = "cluster-01"
  http = "GET /v1/peering/cluster-02"
  expect {
    answer = {
      "State"                          = "ACTIVE"
      "StreamStatus.ExportedServices"  = ["service-name"]
    }
  }
}

step {
  say = "cluster-01 allows frontend in its peer cluster-02 to call service-name (the page's intentions)."
  on  = "cluster-01"
  config = "peering-intentions.hcl"
  expect {
    output = "Config entry written: service-intentions/service-name"
    call {
      from    = "cluster-02"
      service = "frontend"
      peer    = "cluster-01"
      to      = "service-name"
      allowed = true
    }
  }
}

step {
  say = "cluster-01 deletes the peering: it removes what it imported, then its record."
  on  = "cluster-01"
  cli = "consul-sim peering delete -name=cluster-02"
  expect {
    output = "Successfully submitted peering connection, cluster-02, for deletion"
    peering {
      on    = "cluster-01"
      name  = "cluster-02"
      state = "absent"
    }
    peering {
      on    = "cluster-02"
      name  = "cluster-01"
      state = "TERMINATED"
    }
    service {
      on      = "cluster-02"
      name    = "service-name"
      peer    = "cluster-01"
      visible = false
    }
  }
}
