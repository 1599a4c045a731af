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

variable "host" {
  description = "Host name or address of the target host."
  type        = string
}

variable "port" {
  description = "SSH port."
  type        = number
  default     = 22
}

variable "user" {
  description = "Login user; must be root on hosts that run systemd (the hub is installed as a systemd unit with its own user and root-only credentials: a sudo rule allowing that would be root in all but name)."
  type        = string
  default     = "root"
}

variable "private_key_file" {
  description = "Path of the unencrypted private key to log in with."
  type        = string
}

variable "host_key" {
  description = "The host's public key, pinned (content of /etc/ssh/ssh_host_ed25519_key.pub, or a known_hosts line). Other keys are refused; keys are never trusted on first use."
  type        = string
}

variable "dir" {
  description = "Target directory on the host, an absolute path. Default: /srv/hubkit/<region>."
  type        = string
  default     = null
}

variable "listen" {
  description = "Listen address host:port of the hub."
  type        = string
  default     = ":443"
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
  description = "hubctl executable to deploy (built for the host's platform). Default: the hubctl serving the provider."
  type        = string
  default     = null
}

variable "backup_dest" {
  description = "Destination of the nightly backup (hubctl backup --to): an absolute directory on the host or a URL. Empty: no backup timer. Needs systemd on the host."
  type        = string
  default     = ""
}
