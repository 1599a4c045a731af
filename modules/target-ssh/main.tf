# A hub deployed onto a host over SSH. Where the host runs systemd, the hub
# runs as the hardened unit hubkit-<region>.service under its own user;
# elsewhere under start-stop-daemon.

resource "hubkit_site" "this" {
  region             = var.hub.region
  bundle_hash        = var.hub.bundle_hash
  files              = var.hub.files
  members            = var.hub.members
  resource_persons   = var.hub.resource_persons
  partners           = var.hub.partners
  identity_providers = var.hub.identity_providers

  listen         = var.listen
  environment    = var.environment
  purge_data     = var.purge_data
  health_timeout = var.health_timeout
  hubctl_binary  = var.hubctl_binary
  backup_dest    = var.backup_dest

  target {
    ssh {
      host             = var.host
      port             = var.port
      user             = var.user
      private_key_file = var.private_key_file
      host_key         = var.host_key
      dir              = coalesce(var.dir, "/srv/hubkit/${var.hub.region}")
    }
  }
}
