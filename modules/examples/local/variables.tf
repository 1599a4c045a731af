variable "region" {
  description = "Region id."
  type        = string
  default     = "nordjylland"
}

variable "port" {
  description = "Loopback HTTPS port of the development hub."
  type        = number
  default     = 8443
}

variable "dir" {
  description = "Target directory (absolute)."
  type        = string
}

variable "config_file" {
  description = "hubkit's configuration file (absolute)."
  type        = string
  default     = null
}

variable "regions_dir" {
  description = "Directory of the region files (absolute)."
  type        = string
  default     = null
}

variable "purge_data" {
  description = "Whether destroy removes the hub's data too."
  type        = bool
  default     = false
}

variable "health_timeout" {
  description = "How long a restarted hub may take to become ready."
  type        = string
  default     = "60s"
}
