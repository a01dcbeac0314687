## The page's "authorize connections from peers" step: let `frontend` in the peer cluster-02
## call `service-name`. Without Peer, a source means a service in the local cluster.
Kind = "service-intentions"
Name = "service-name"
Sources = [
  {
    Name   = "frontend"
    Peer   = "cluster-02"
    Action = "allow"
  }
]
