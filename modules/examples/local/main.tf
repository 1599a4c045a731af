# Example root module: a development hub of one region, deployed into a
# directory on this machine. Run it with the provider mirror hubctl writes
# (see ../../README.md):
#
#   export TF_CLI_CONFIG_FILE=/path/to/.hubkit/terraform.rc
#   export HUBKIT_DEV_CLIENT_SECRET=$(head -c 32 /dev/urandom | base64)
#   terraform init && terraform apply

module "hub" {
  source      = "../../hub"
  region      = var.region
  dev         = true
  port        = var.port
  config_file = var.config_file
  regions_dir = var.regions_dir
}

module "site" {
  source = "../../target-local"
  hub    = module.hub
  dir    = var.dir
  listen = "127.0.0.1:${var.port}"
  # The development identity provider's client secret, passed through
  # from the environment of the process running Terraform.
  environment    = { HUBKIT_DEV_CLIENT_SECRET = "HUBKIT_DEV_CLIENT_SECRET" }
  purge_data     = var.purge_data
  health_timeout = var.health_timeout
}
