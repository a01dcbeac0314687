title       = "A CA rotation reaches the peer's trust bundle"
description = "cluster-01 rotates its Connect CA to a new key; cluster-02's peering then trusts both roots, old and new."
include     = ["peer"]

step {
  say = "cluster-02 holds cluster-01's one CA root in the peering's trust bundle."
  on  = "cluster-02"
  http = "GET /v1/peering/cluster-01"
  expect {
    peering {
      name  = "cluster-01"
      state = "ACTIVE"
      roots = 1
    }
  }
}

step {
  say = "cluster-01 has one root, active."
  on  = "cluster-01"
  http = "GET /v1/connect/ca/roots"
  expect {
    answer = {
      "Roots.0.Active" = true
      "Roots.1"        = null
    }
  }
}

step {
  say = "cluster-01's operator configures the built-in CA with a new private key (a throwaway one, made for this scenario): a rotation."
  on  = "cluster-01"
  http = "PUT /v1/connect/ca/configuration"
  body = {
    Provider = "consul"
    Config = {
      PrivateKey = <<EOT
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEICGr2lzHFM3FVmPACF0Noa1QSF8qHO27s79lv8kOJKdmoAoGCCqGSM49
AwEHoUQDQgAEYQEm/9ZgQ10ZM5vGj3YqXxXS+riyMSt4WuYWRoP2C+3pC04ZYMB8
eGqv+vtSBvCeqVav93cYoRTm+9xdOw9UdA==
-----END EC PRIVATE KEY-----
EOT
    }
  }
  expect {
    status = 200
  }
}

step {
  say = "cluster-01 now lists two roots: the new one active, the old one still trusted while certificates it signed live on."
  on  = "cluster-01"
  http = "GET /v1/connect/ca/roots"
  expect {
    answer = {
      "Roots.0.Name" = "Consul CA Primary Cert"
      "Roots.1.Name" = "Consul CA Primary Cert"
      "Roots.2"      = null
    }
  }
}

step {
  say = "The new roots travel over the peering stream: cluster-02's trust bundle for cluster-01 now holds both."
  on  = "cluster-02"
  http = "GET /v1/peering/cluster-01"
  expect {
    peering {
      name  = "cluster-01"
      state = "ACTIVE"
      roots = 2
    }
  }
}
