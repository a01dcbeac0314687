title       = "Deleting a peering on one side terminates it on the other"
description = "cluster-02 deletes its peering; cluster-01 sees TERMINATED and everything imported is cleaned up."
include     = ["peer", "export"]

step {
  say = "cluster-02, the importing side, deletes its peering with cluster-01."
  on  = "cluster-02"
  cli = "consul-sim peering delete -name=cluster-01"
  expect {
    output = "Successfully submitted peering connection, cluster-01, for deletion"
    peering {
      on    = "cluster-02"
      name  = "cluster-01"
      state = "absent"
    }
    peering {
      on    = "cluster-01"
      name  = "cluster-02"
      state = "TERMINATED"
    }
  }
}

step {
  say = "What cluster-02 had imported from cluster-01 is gone."
  on  = "cluster-02"
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
  say = "cluster-01 keeps a TERMINATED record so its operator notices; its list says so."
  on  = "cluster-01"
  cli = "consul-sim peering list"
  expect {
    output = "TERMINATED"
  }
}

step {
  say = "cluster-01 deletes its record too, and nothing of the peering is left on either side."
  on  = "cluster-01"
  cli = "consul-sim peering delete -name=cluster-02"
  expect {
    exit = 0
    peering {
      on    = "cluster-01"
      name  = "cluster-02"
      state = "absent"
    }
  }
}

step {
  say = "cluster-01's list is empty."
  on  = "cluster-01"
  cli = "consul-sim peering list"
  expect {
    output = "There are no peering connections."
  }
}
