# A development hub on this machine.
data "hubkit_bundle" "dev" {
  region = "nordjylland"
  dev    = true
  port   = 8443
}

resource "hubkit_site" "dev" {
  region             = "nordjylland"
  bundle_hash        = data.hubkit_bundle.dev.bundle_hash
  files              = data.hubkit_bundle.dev.files
  members            = data.hubkit_bundle.dev.members
  resource_persons   = data.hubkit_bundle.dev.resource_persons
  partners           = data.hubkit_bundle.dev.partners
  identity_providers = data.hubkit_bundle.dev.identity_providers

  listen      = "127.0.0.1:8443"
  environment = { HUBKIT_DEV_CLIENT_SECRET = "HUBKIT_DEV_CLIENT_SECRET" }

  target {
    local {
      dir = abspath(".hubkit/sites/nordjylland")
    }
  }
}

# A production hub on a host reached over SSH, its host key pinned.
data "hubkit_bundle" "prod" {
  region = "nordjylland"
}

resource "hubkit_site" "prod" {
  region           = "nordjylland"
  bundle_hash      = data.hubkit_bundle.prod.bundle_hash
  files            = data.hubkit_bundle.prod.files
  resource_persons = data.hubkit_bundle.prod.resource_persons

  listen = ":443"
  environment = {
    HUBKIT_OIDC_AALBORG_SECRET = "HUBKIT_OIDC_AALBORG_SECRET"
  }

  target {
    ssh {
      host             = "hub.nordjylland.example"
      private_key_file = pathexpand("~/.ssh/hubkit_deploy")
      host_key         = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJmAigyvHasIXFFKd9Ix0ZsZkLxeS7sPqNihXLjg6oK"
      dir              = "/srv/hubkit/nordjylland"
    }
  }
}
