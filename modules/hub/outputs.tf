output "region" {
  description = "Region id."
  value       = var.region
}

output "bundle_hash" {
  description = "sha256 of the bundle's content."
  value       = data.hubkit_bundle.this.bundle_hash
}

output "domain" {
  description = "Host name the hub is served on."
  value       = data.hubkit_bundle.this.domain
}

output "files" {
  description = "The bundle's files (caddy.json, site.json, manifest.json)."
  value       = data.hubkit_bundle.this.files
}

output "members" {
  description = "Member municipalities."
  value       = data.hubkit_bundle.this.members
}

output "resource_persons" {
  description = "Resource persons, as Name <email>."
  value       = data.hubkit_bundle.this.resource_persons
}

output "partners" {
  description = "Partner organisations."
  value       = data.hubkit_bundle.this.partners
}

output "identity_providers" {
  description = "Municipalities with an identity provider."
  value       = data.hubkit_bundle.this.identity_providers
}
