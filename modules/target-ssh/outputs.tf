locals {
  port = regex(":([0-9]+)$", var.listen)[0]
}

output "release_id" {
  description = "The deployed release."
  value       = hubkit_site.this.release_id
}

output "deployed_bundle_hash" {
  description = "The bundle the hub serves."
  value       = hubkit_site.this.deployed_bundle_hash
}

output "url" {
  description = "The hub's address."
  value       = "https://${var.hub.domain}${local.port == "443" ? "" : ":${local.port}"}/"
}
