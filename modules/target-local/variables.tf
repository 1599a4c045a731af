variable "hub" {
  description = "The hub to deploy: pass module.hub (the outputs of modules/hub)."
  type = object({
    region             = string
    bundle_hash        = string
    domain             = string
    files              = map(string)
    members            = list(string)
    resource_persons   = list(string)
    partners           = list(string)
    identity_providers = list(string)
  })
}

variable "dir" {
  description = "Target directory on this machine, an absolute path (releases/, current, data/ below it)."
  type        = string
}

variable "listen" {
  description = "Listen address host:port. Development bundles listen on loopback, e.g. 127.0.0.1:8443."
  type        = string
}

variable "environment" {
  description = "Environment of the hub by reference: variable name for the hub => name of a variable of the process running Terraform, whose value is passed through at apply time and never stored in the state."
  type        = map(string)
  default     = {}
}

variable "purge_data" {
  description = "Whether destroy also removes the hub's data (sessions, audit log, files)."
  type        = bool
  default     = false
}

variable "health_timeout" {
  description = "How long a restarted hub may take to become ready before the release is rolled back."
  type        = string
  default     = "60s"
}

variable "hubctl_binary" {
  description = "hubctl executable to deploy. Default: the hubctl serving the provider."
  type        = string
  default     = null
}
