title       = "A partition: FAILING after the heartbeat timeout, ACTIVE after the heal"
description = "Cut the link between the clusters, move time past the heartbeat timeout, heal it, and watch the peering recover."
heartbeat_interval = "5s"
heartbeat_timeout  = "20s"
include     = ["peer"]

step {
  say = "Cut the network between cluster-01 and cluster-02 (not a Consul API: the simulator's cable cutter)."
  fault   = "partition"
  between = ["cluster-01", "cluster-02"]
  expect {
    status = 200
  }
}

step {
  say = "10 seconds later, within the 20s heartbeat timeout, both sides still say ACTIVE."
  advance = "10s"
  expect {
    peering {
      on    = "cluster-02"
      name  = "cluster-01"
      state = "ACTIVE"
    }
  }
}

step {
  say = "15 seconds more: no heartbeat for 25s, past the timeout, so the peering is FAILING."
  advance = "15s"
  expect {
    peering {
      on    = "cluster-02"
      name  = "cluster-01"
      state = "FAILING"
    }
    peering {
      on    = "cluster-01"
      name  = "cluster-02"
      state = "FAILING"
    }
  }
}

step {
  say = "The status read shows why: the stream is not connected."
  on  = "cluster-02"
  http = "GET /v1/peering/cluster-01"
  expect {
    answer = {
      "State"     = "FAILING"
    }
  }
}

step {
  say = "Heal the link."
  fault   = "heal"
  between = ["cluster-01", "cluster-02"]
  expect {
    status = 200
  }
}

step {
  say = "After a heartbeat interval the stream is back and both sides are ACTIVE again."
  advance = "6s"
  expect {
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
