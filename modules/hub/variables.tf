variable "region" {
  description = "Region id, e.g. nordjylland: the name of its file in the regions directory."
  type        = string
}

variable "dev" {
  description = "Render a development bundle: the hub on <region>.hub.localhost with Caddy's internal CA and the development identity provider. Development hubs listen on loopback only."
  type        = bool
  default     = false
}

variable "port" {
  description = "HTTPS port the bundle is rendered for. Default: 443, or 8443 for development bundles. Serve a development bundle on this port."
  type        = number
  default     = null
}

variable "peer_ports" {
  description = "HTTPS ports of the other regions' hubs, by region id, where they differ from port (local hubs side by side). The file drop delivers drops for their users there."
  type        = map(number)
  default     = null
}

variable "config_file" {
  description = "hubkit's global configuration file (absolute path). Default: config/hubkit.yaml in Terraform's working directory when it exists, else the built-in defaults."
  type        = string
  default     = null
}

variable "regions_dir" {
  description = "Directory of the region files (absolute path). Default: regions_dir of the configuration."
  type        = string
  default     = null
}
