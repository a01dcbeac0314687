title       = "The page's walk-through, through the mesh"
description = "web with a sidecar in cluster-01 reached from frontend in cluster-02 through mesh gateways: the imported sidecar, the certificates, the intention, the call."

## Consul's sources for what each step shows: agent/sidecar_service.go (the sidecar),
## agent/consul/peering_backend.go (gateway addresses in the token when PeerThroughMeshGateways),
## agent/grpc-external/services/peerstream/subscription_manager.go (the synthetic
## web-sidecar-proxy at the exporter's gateway, with PeerMeta), agent/connect/sni.go.

step {
  say = "cluster-01 registers web with a sidecar proxy: Connect.SidecarService asks the agent to add web-sidecar-proxy."
  on  = "cluster-01"
  http = "PUT /v1/agent/service/register"
  body = { Name = "web", Port = 8080, Connect = { SidecarService = {} } }
  expect {
    status = 200
  }
}

step {
  say = "cluster-01 runs a mesh gateway: a LAN address inside, a WAN address its peers reach."
  on  = "cluster-01"
  http = "PUT /v1/agent/service/register"
  body = { Name = "mesh-gateway", Kind = "mesh-gateway", Address = "10.0.1.10", Port = 8443, TaggedAddresses = { wan = { Address = "198.51.100.1", Port = 8443 } } }
  expect {
    status = 200
  }
}

step {
  say = "cluster-02 runs one too."
  on  = "cluster-02"
  http = "PUT /v1/agent/service/register"
  body = { Name = "mesh-gateway", Kind = "mesh-gateway", Address = "10.0.2.10", Port = 8443, TaggedAddresses = { wan = { Address = "198.51.100.2", Port = 8443 } } }
  expect {
    status = 200
  }
}

step {
  say = "Both clusters send peering traffic through their mesh gateways; this comes before the token, which names the addresses to dial."
  on  = "cluster-01"
  entry = { Kind = "mesh", Peering = { PeerThroughMeshGateways = true } }
  expect {
    status = 200
  }
}

step {
  say = "The same mesh entry in cluster-02."
  on  = "cluster-02"
  entry = { Kind = "mesh", Peering = { PeerThroughMeshGateways = true } }
  expect {
    status = 200
  }
}

step {
  say = "cluster-01 makes a peering token for cluster-02."
  on  = "cluster-01"
  http = "POST /v1/peering/token"
  body = { PeerName = "cluster-02" }
  capture {
    TOKEN = "PeeringToken"
  }
}

step {
  say = "cluster-02 establishes the peering with it; both sides go ACTIVE."
  on  = "cluster-02"
  http = "POST /v1/peering/establish"
  body = { PeerName = "cluster-01", PeeringToken = "$TOKEN" }
  expect {
    status = 200
    peering {
      name  = "cluster-01"
      state = "ACTIVE"
    }
  }
}

step {
  say = "The address cluster-02 dials is cluster-01's gateway's WAN address, not a server's."
  on  = "cluster-02"
  http = "GET /v1/peering/cluster-01"
  expect {
    answer = {
      "PeerServerAddresses.0" = "198.51.100.1:8443"
      "PeerServerAddresses.1" = null
    }
  }
}

step {
  say = "cluster-01 exports web to cluster-02."
  on  = "cluster-01"
  entry = {
    Kind     = "exported-services"
    Name     = "default"
    Services = [{ Name = "web", Consumers = [{ Peer = "cluster-02" }] }]
  }
  expect {
    status = 200
    service {
      on     = "cluster-02"
      name   = "web"
      peer   = "cluster-01"
      health = "passing"
    }
  }
}

step {
  say = "cluster-02 registers frontend, whose sidecar has an upstream: web in the peer cluster-01, on local port 9191."
  on  = "cluster-02"
  http = "PUT /v1/agent/service/register"
  body = {
    Name    = "frontend"
    Port    = 9090
    Connect = { SidecarService = { Proxy = { Upstreams = [{ DestinationName = "web", DestinationPeer = "cluster-01", LocalBindPort = 9191 }] } } }
  }
  expect {
    status = 200
  }
}

step {
  say = "cluster-01's CA names its trust domain; the peer's SNI and SPIFFE IDs for web are built on it."
  on  = "cluster-01"
  http = "GET /v1/connect/ca/roots"
  expect {
    answer = { "Roots.0.Active" = true }
  }
  capture {
    TD1   = "TrustDomain"
    ROOT1 = "Roots.0.RootCert"
  }
}

step {
  say = "Because web is in the mesh, cluster-01 also exports a web-sidecar-proxy for it: at its mesh gateway, with the SNI and SPIFFE IDs cluster-02's proxies must use."
  on  = "cluster-02"
  http = "GET /v1/health/connect/web?peer=cluster-01"
  expect {
    answer = {
      "0.Service.Kind"                      = "connect-proxy"
      "0.Service.ID"                        = "web-sidecar-proxy-instance-0"
      "0.Service.Address"                   = "10.0.1.10"
      "0.Service.Port"                      = 8443
      "0.Service.TaggedAddresses.wan.Address" = "198.51.100.1"
      "0.Service.Proxy.DestinationServiceName" = "web"
      "0.Service.Connect.PeerMeta.SNI.0"    = "web.default.default.cluster-02.external.$TD1"
      "0.Service.Connect.PeerMeta.SpiffeID.0" = "spiffe://$TD1/ns/default/dc/cluster-01/svc/web"
      "0.Service.Connect.PeerMeta.SpiffeID.1" = "spiffe://$TD1/gateway/mesh/dc/cluster-01"
      "0.Service.Connect.PeerMeta.Protocol" = "tcp"
      "1"                                   = null
    }
  }
}

step {
  say = "cluster-02 has its own CA, with its own trust domain."
  on  = "cluster-02"
  http = "GET /v1/connect/ca/roots"
  capture {
    TD2 = "TrustDomain"
  }
}

step {
  say = "frontend's leaf certificate is signed by cluster-02's CA and names frontend's SPIFFE ID there."
  on  = "cluster-02"
  http = "GET /v1/agent/connect/ca/leaf/frontend"
  expect {
    answer = {
      Service    = "frontend"
      ServiceURI = "spiffe://$TD2/ns/default/dc/cluster-02/svc/frontend"
    }
  }
}

step {
  say = "cluster-02 trusts cluster-01's root for that peer: the trust bundle the peering stream brought."
  on  = "cluster-02"
  http = "GET /_sim/trust-bundle/cluster-01"
  expect {
    answer = {
      PeerName     = "cluster-01"
      TrustDomain  = "$TD1"
      "RootPEMs.0" = "$ROOT1"
      "RootPEMs.1" = null
    }
  }
}

step {
  say = "cluster-01 allows frontend from its peer cluster-02 to call web."
  on  = "cluster-01"
  entry = {
    Kind    = "service-intentions"
    Name    = "web"
    Sources = [{ Name = "frontend", Peer = "cluster-02", Action = "allow" }]
  }
  expect {
    status = 200
  }
}

step {
  say = "frontend's call to web goes through, and the intention that let it is named."
  on  = "cluster-02"
  http = "POST /_sim/call"
  body = { Source = { Cluster = "cluster-02", Service = "frontend" }, Destination = { Peer = "cluster-01", Service = "web" } }
  expect {
    answer = { Allowed = true }
    call {
      service = "frontend"
      peer    = "cluster-01"
      to      = "web"
      allowed = true
      reason  = "Matched L4 intention: peer(cluster-02)/frontend => web"
    }
  }
}
