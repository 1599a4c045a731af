# A hub deployed into a directory on the machine running Terraform, served
# under start-stop-daemon as the user running Terraform.

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

  target {
    local {
      dir = var.dir
    }
  }
}
