terraform {
  required_version = ">= 1.5.0"
  required_providers {
    hubkit = {
      # Served by hubctl itself, from the filesystem mirror hubctl writes;
      # never downloaded (see modules/README.md).
      source  = "hubkit/hubkit"
      version = ">= 0.1.0"
    }
  }
}
