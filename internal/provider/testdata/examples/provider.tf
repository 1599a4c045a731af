# hubctl writes the filesystem mirror and the CLI configuration that let
# Terraform find this provider without a network (export
# TF_CLI_CONFIG_FILE=<dir>/terraform.rc); the provider is hubctl itself.
terraform {
  required_providers {
    hubkit = {
      source = "hubkit/hubkit"
    }
  }
}

provider "hubkit" {
  config_file = abspath("config/hubkit.yaml")
  regions_dir = abspath("regions")
}
