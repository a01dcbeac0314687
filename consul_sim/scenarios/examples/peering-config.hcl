## The page's exported-services example, corrected: the service object and the Services list
## are closed, and CE's entry is named "default" (a top-level Partition is Enterprise-only).
Kind = "exported-services"
Name = "default"
Services = [
  {
    ## The name and namespace of the service to export.
    Name = "service-name"
    Namespace = "default"
    ## The list of peer clusters to export the service to.
    Consumers = [
      {
        ## The peer name to reference in config is the one set
        ## during the peering process.
        Peer = "cluster-02"
      }
    ]
  }
]
