# A region's hub, independent of where it runs: the bundle rendered from
# the region files, as `hubctl render` renders it. Pass the whole module to
# a target module (target-local, target-ssh) as its `hub` input.

provider "hubkit" {
  config_file = var.config_file
  regions_dir = var.regions_dir
}

data "hubkit_bundle" "this" {
  region = var.region
  dev    = var.dev
  port   = var.port

  peer_ports = var.peer_ports
}
