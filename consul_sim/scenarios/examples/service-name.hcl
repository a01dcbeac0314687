## The service the page exports from cluster-01, with a TTL check that starts passing so the
## peer sees a healthy instance (consul services register scenarios/service-name.hcl).
service {
  name = "service-name"
  id   = "service-name-1"
  port = 8080
  check {
    ttl    = "10m"
    status = "passing"
  }
}
